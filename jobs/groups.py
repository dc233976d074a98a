"""The one place that names channel-layer groups and message types."""

from __future__ import annotations

import json

JOB_UPDATE = "job.update"  # handled by JobsConsumer.job_update
SESSION_ENDED = "session.ended"  # handled by JobsConsumer.session_ended
TOKEN_REVOKED = "token.revoked"  # handled by JobsConsumer.token_revoked


def user_group(user_id: int) -> str:
    """Group of every socket that one user has open, on any server."""
    return f"jobs.user.{int(user_id)}"


def update_frame(snapshot: dict) -> str:
    """The contract's `job.update` WebSocket message for one JOB snapshot, as sent."""
    return json.dumps({"type": JOB_UPDATE, "job": snapshot}, separators=(",", ":"))
