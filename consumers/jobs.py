"""JobsConsumer: pushes the user's job snapshots and updates to the browser."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from consumers.identity import session_user
from consumers.intake import CLOSE_POLICY, socket_budget
from jobs.groups import (
    JOB_UPDATE,
    KIND_FRAME,
    SESSION_ENDED,
    TOKEN_REVOKED,
    feed_group,
    feeds_for,
    update_frame,
    user_group,
)
from jobs.selectors import job_get_visible, jobs_recent
from jobs.services import JobAlreadyFinished, job_cancel
from jobs.snapshot import job_snapshot
from tokens.scopes import CANCEL, READ
from tokens.services import REVOKED, token_user

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME_CHARS = 4096
# Handlers that never touch the database.
PUSH_TYPES = frozenset({JOB_UPDATE, SESSION_ENDED, TOKEN_REVOKED, KIND_FRAME})


class JobsConsumer(AsyncWebsocketConsumer):
    """`/ws/jobs/`: snapshot on connect and on sync, job.update as they happen."""

    group: str | None = None
    user: Any = None  # the socket's user as last checked (never the connect-time scope user)
    checked_at = 0.0
    last_sync = float("-inf")
    # Opened with an access token (consumers.bearer): its id and scopes, else None.
    token_id: int | None = None
    token_scopes: frozenset[str] = frozenset()
    watcher: asyncio.Task | None = None
    refusal = ""  # why a token socket is being closed, sent before the close
    # Kinds' feeds (jobs.groups.feed_register) joined at connect, and those the user may
    # still receive as of the last check: a right taken away stops the frames within
    # JOBS_WS_RECHECK; one granted later takes a reconnect.
    feeds: frozenset[str] = frozenset()
    feeds_now: frozenset[str] = frozenset()

    async def connect(self) -> None:
        """Accept first, then close with 4401/4403, so the browser sees the code (trap 12)."""
        await self.accept()
        # Spent again here for ASGI servers other than daphne (consumers.intake guards
        # daphne's own queue); under daphne a frame that got this far is within it anyway.
        self.budget = socket_budget()
        refusal = self.scope.get("auth_refusal")
        if refusal is not None:  # a bad token, or one in the URL (consumers.bearer)
            code, sentence = refusal
            await self.send_error(sentence)
            await self.close(code=code)
            return
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        token = self.scope.get("access_token")
        if token is not None:
            if READ not in token.scope_set:
                await self.send_error("This access token lacks the `read` scope, which "
                                      "watching jobs needs.")
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.token_id, self.token_scopes = token.pk, token.scope_set
        # Read by the auth middleware for this handshake (session, expiry, auth hash): fresh.
        self.user, self.checked_at = user, time.monotonic()
        self.group = user_group(self.user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        self.feeds = self.feeds_now = await database_sync_to_async(feeds_for)(self.user)
        for kind in self.feeds:
            await self.channel_layer.group_add(feed_group(kind), self.channel_name)
        if self.token_id is not None:
            self.watcher = asyncio.create_task(self.watch_token())
        await self.send_snapshot()

    async def dispatch(self, message: dict) -> None:
        """Forward channel-layer pushes without the per-message database clean-up hop.

        Channels >= 4.2 runs `close_old_connections` through `sync_to_async` (one shared
        thread) before every handler. For pushes that never touch the database that is one
        serialized thread hop per socket per update: with 1,000 sockets on one process an
        update took 3.5 s median / 5.4 s p99 to reach them all (bench/fleet.py), and the
        broadcaster's bounded sends timed out behind the backlog, dropping final states.
        """
        if message.get("type") in PUSH_TYPES:
            await getattr(self, get_handler_name(message))(message)
            return
        await super().dispatch(message)

    async def disconnect(self, code: int) -> None:
        """Leave the group."""
        if self.watcher is not None and self.watcher is not asyncio.current_task():
            self.watcher.cancel()
        self.watcher = None
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None
        for kind in self.feeds:
            await self.channel_layer.group_discard(feed_group(kind), self.channel_name)
        self.feeds = self.feeds_now = frozenset()

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Handle sync, ping and cancel; anything else gets an error frame."""
        if self.group is None:
            return
        size = len(text_data) if text_data is not None else len(bytes_data or b"")
        if not self.budget.allows(size):
            logger.warning("socket of user %s closed: more than its frame budget", self.user.pk)
            await self.stop(CLOSE_POLICY)
            return
        if text_data is None:
            await self.send_error("Send JSON text frames, not binary.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_error(f"Message too large (limit {MAX_FRAME_CHARS} characters).")
            return
        try:
            message = json.loads(text_data)
        except (ValueError, RecursionError):  # RecursionError: [[[[... nested too deep
            await self.send_error("Message is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self.send_error("Message must be a JSON object with an 'action'.")
            return
        action = message.get("action")
        if action == "sync" and self.sync_too_soon():
            # Answered before the identity read: the answer carries nothing of the user's,
            # and a flood of syncs then costs no database work (other users share that thread).
            await self.send_error(f"sync at most once every {settings.JOBS_WS_SYNC_INTERVAL:g} "
                                  "s; the last snapshot and the updates since are current.")
            return
        refused = await self.recheck()
        if refused is not None:
            await self.stop(refused)
            return
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action == "sync":
            await self.sync()
        elif action == "cancel":
            await self.cancel(message.get("job"))
        elif isinstance(action, str):
            await self.send_error(f"Unknown action {action[:40]!r}; use sync, ping or cancel.")
        else:
            await self.send_error("Missing 'action'; use sync, ping or cancel.")

    def sync_too_soon(self) -> bool:
        """At most one snapshot per JOBS_WS_SYNC_INTERVAL (each is up to 50 jobs)."""
        return time.monotonic() - self.last_sync < settings.JOBS_WS_SYNC_INTERVAL

    async def sync(self) -> None:
        self.last_sync = time.monotonic()
        await self.send_snapshot()

    async def cancel(self, job_id: Any) -> None:
        if not isinstance(job_id, str):
            await self.send_error("cancel needs 'job': the job id as a string.")
            return
        if self.token_id is not None and CANCEL not in self.token_scopes:
            await self.send_error("This access token lacks the `cancel` scope; create a token "
                                  "with `cancel` to do this.", job=job_id[:64])
            return
        snapshot, error = await self._cancel(job_id)
        if error:
            await self.send_error(error, job=job_id[:64])
        else:
            await self.send(text_data=update_frame(snapshot))

    @database_sync_to_async
    def _cancel(self, job_id: str) -> tuple[dict | None, str | None]:
        job = job_get_visible(user=self.user, job_id=job_id)
        if job is None:
            return None, "No such job."
        try:
            return job_snapshot(job_cancel(job_id=job.pk)), None
        except JobAlreadyFinished as exc:
            return None, str(exc)

    @database_sync_to_async
    def _snapshot(self) -> list[dict]:
        return [job_snapshot(job) for job in jobs_recent(user=self.user)]

    @database_sync_to_async
    def recheck(self) -> int | None:
        """Read the session and its user afresh: the close code once this socket may no longer
        be served, else None (and `self.user` is the user as they are now: rights, superuser).

        4401 when the session is gone, expired or no longer valid for the user (logged out,
        deactivated, password changed), or, for a socket opened with an access token, when
        the token was revoked or expired or its user deactivated; 4403 when still logged in
        but no longer staff.
        """
        self.checked_at = time.monotonic()
        if self.token_id is not None:
            user, self.refusal = token_user(self.token_id)
        else:
            user = session_user(getattr(self.scope.get("session"), "session_key", None))
        connected = self.scope.get("user")
        if user is None or connected is None or user.pk != connected.pk:
            return CLOSE_UNAUTHENTICATED
        self.user = user
        if self.feeds:
            self.feeds_now = feeds_for(user) if user.is_staff else frozenset()
        return None if user.is_staff else CLOSE_FORBIDDEN

    async def stop(self, code: int) -> None:
        """Close, and take no more pushes meanwhile. A token socket is told why first (a
        program has no login page to show it): the sentence the handshake would give."""
        await self.disconnect(code)
        if self.refusal:
            await self.send_error(self.refusal)
        await self.close(code=code)

    async def send_snapshot(self) -> None:
        await self.send_json({"type": "jobs.snapshot", "jobs": await self._snapshot()})

    async def send_error(self, error: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "error": error, **extra})

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # --- channel-layer handlers ---------------------------------------------------------
    async def job_update(self, event: dict) -> None:
        """Forward one job's update, encoded once by its publisher (jobs.publish).

        A socket whose user was last checked more than JOBS_WS_RECHECK seconds ago is checked
        again first (one session and one user read): a deactivated user, or one who lost
        staff, stops receiving within that bound even if the client never speaks.
        """
        if await self.still_served():
            await self.send(text_data=event["frame"])

    async def kind_frame(self, event: dict) -> None:
        """Forward a frame of a kind's feed (campaigns: `agreement.counts`), encoded once by
        its sender, while the user may still start jobs of that kind."""
        if await self.still_served() and event.get("kind") in self.feeds_now:
            await self.send(text_data=event["frame"])

    async def still_served(self) -> bool:
        """Whether a push may go to this socket: open, and its user checked again first when
        the last check is older than JOBS_WS_RECHECK (closed when refused)."""
        if self.group is None:
            return False
        if time.monotonic() - self.checked_at > settings.JOBS_WS_RECHECK:
            refused = await self.recheck()
            if refused is not None:
                await self.stop(refused)
                return False
        return True

    async def session_ended(self, event: dict) -> None:
        """Close sockets of a session that logged out."""
        if self.token_id is not None:
            return  # a token socket has no session; logging out elsewhere does not end it
        session = self.scope.get("session")
        if getattr(session, "session_key", None) == event.get("session_key"):
            await self.stop(CLOSE_UNAUTHENTICATED)

    async def token_revoked(self, event: dict) -> None:
        """Close sockets opened with a token that was just revoked (tokens.services)."""
        if self.token_id is not None and event.get("token_id") == self.token_id:
            self.refusal = REVOKED
            await self.stop(CLOSE_UNAUTHENTICATED)

    async def watch_token(self) -> None:
        """A token socket is re-read every JOBS_WS_RECHECK seconds even when idle.

        A session socket is re-read on client messages and pushes only; a program's socket
        may sit silent for hours, and its token's expiry, a revocation from another process
        (the command, another server) or its user losing staff must still close it within
        seconds. One indexed read per token socket per interval: programs are few.
        """
        with contextlib.suppress(asyncio.CancelledError):
            while self.group is not None:
                # A client message or a push may have checked it meanwhile: wait out the rest.
                wait = settings.JOBS_WS_RECHECK - (time.monotonic() - self.checked_at)
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                refused = await self.recheck()
                if refused is not None:
                    await self.stop(refused)
                    return
