"""The one place that names channel-layer groups and message types."""

from __future__ import annotations

import json
from typing import Any

JOB_UPDATE = "job.update"  # handled by JobsConsumer.job_update
SESSION_ENDED = "session.ended"  # handled by JobsConsumer.session_ended
TOKEN_REVOKED = "token.revoked"  # handled by JobsConsumer.token_revoked
KIND_FRAME = "kind.frame"  # handled by JobsConsumer.kind_frame

# Kinds that push frames of their own to the sockets of every user they permit (a "feed"):
# campaigns push `agreement.counts` to whoever may send reminders. Registered from the kind's
# AppConfig.ready, so jobs/ names no kind.
_FEEDS: set[str] = set()


def user_group(user_id: int) -> str:
    """Group of every socket that one user has open, on any server."""
    return f"jobs.user.{int(user_id)}"


def update_frame(snapshot: dict) -> str:
    """The contract's `job.update` WebSocket message for one JOB snapshot, as sent."""
    return json.dumps({"type": JOB_UPDATE, "job": snapshot}, separators=(",", ":"))


def feed_register(kind: str) -> None:
    """Let sockets of users who may start jobs of `kind` receive that kind's frames."""
    _FEEDS.add(kind)


def feed_group(kind: str) -> str:
    """Group of every socket whose user may start jobs of `kind` (when it has a feed)."""
    return f"jobs.kind.{kind}"


def feeds_for(user: Any) -> frozenset[str]:
    """The feeds this user may receive now: a kind's right to start it (`JobKind.allows`).

    Reads permissions (database): call it from sync code.
    """
    from jobs import kinds

    allowed = set()
    for name in sorted(_FEEDS):
        kind = kinds.find(name)
        if kind is not None and kind.allows(user, None):
            allowed.add(name)
    return frozenset(allowed)


def feed_message(kind: str, frame: dict) -> dict:
    """The group message that carries one frame of a kind's feed, encoded once."""
    return {"type": KIND_FRAME, "kind": kind,
            "frame": json.dumps(frame, separators=(",", ":"))}
