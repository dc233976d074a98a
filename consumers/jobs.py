"""JobsConsumer: pushes the user's job snapshots and updates to the browser."""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from jobs.groups import JOB_UPDATE, SESSION_ENDED, update_frame, user_group
from jobs.selectors import job_get_visible, jobs_recent
from jobs.services import JobAlreadyFinished, job_cancel
from jobs.snapshot import job_snapshot

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
MAX_FRAME_CHARS = 4096
PUSH_TYPES = frozenset({JOB_UPDATE, SESSION_ENDED})  # handlers that never touch the database


class JobsConsumer(AsyncWebsocketConsumer):
    """`/ws/jobs/`: snapshot on connect and on sync, job.update as they happen."""

    group: str | None = None

    async def connect(self) -> None:
        """Accept first, then close with 4401/4403, so the browser sees the code (trap 12)."""
        await self.accept()
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if not user.is_staff:
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
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
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)
            self.group = None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """Handle sync, ping and cancel; anything else gets an error frame."""
        if self.group is None:
            return
        if text_data is None:
            await self.send_error("Send JSON text frames, not binary.")
            return
        if len(text_data) > MAX_FRAME_CHARS:
            await self.send_error(f"Message too large (limit {MAX_FRAME_CHARS} characters).")
            return
        try:
            message = json.loads(text_data)
        except ValueError:
            await self.send_error("Message is not valid JSON.")
            return
        if not isinstance(message, dict):
            await self.send_error("Message must be a JSON object with an 'action'.")
            return
        refused = await self.refusal_code()
        if refused is not None:
            await self.close(code=refused)
            return
        action = message.get("action")
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action == "sync":
            await self.send_snapshot()
        elif action == "cancel":
            await self.cancel(message.get("job"))
        elif isinstance(action, str):
            await self.send_error(f"Unknown action {action[:40]!r}; use sync, ping or cancel.")
        else:
            await self.send_error("Missing 'action'; use sync, ping or cancel.")

    async def cancel(self, job_id: Any) -> None:
        if not isinstance(job_id, str):
            await self.send_error("cancel needs 'job': the job id as a string.")
            return
        snapshot, error = await self._cancel(job_id)
        if error:
            await self.send_error(error, job=job_id[:64])
        else:
            await self.send(text_data=update_frame(snapshot))

    @database_sync_to_async
    def _cancel(self, job_id: str) -> tuple[dict | None, str | None]:
        job = job_get_visible(user=self.scope["user"], job_id=job_id)
        if job is None:
            return None, "No such job."
        try:
            return job_snapshot(job_cancel(job_id=job.pk)), None
        except JobAlreadyFinished as exc:
            return None, str(exc)

    @database_sync_to_async
    def _snapshot(self) -> list[dict]:
        return [job_snapshot(job) for job in jobs_recent(user=self.scope["user"])]

    @database_sync_to_async
    def refusal_code(self) -> int | None:
        """The close code once this socket may no longer be served, else None.

        4401 when the session was logged out or the user deactivated (no longer logged in),
        4403 when the user is still logged in but lost staff (CONTRACT: not staff -> 4403).
        """
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        if not key:
            return CLOSE_UNAUTHENTICATED
        engine: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
        if not engine().exists(key):
            return CLOSE_UNAUTHENTICATED
        user = self.scope["user"]
        user.refresh_from_db(fields=["is_active", "is_staff"])
        if not user.is_active:
            return CLOSE_UNAUTHENTICATED
        if not user.is_staff:
            return CLOSE_FORBIDDEN
        return None

    async def send_snapshot(self) -> None:
        await self.send_json({"type": "jobs.snapshot", "jobs": await self._snapshot()})

    async def send_error(self, error: str, **extra: Any) -> None:
        await self.send_json({"type": "error", "error": error, **extra})

    async def send_json(self, content: dict) -> None:
        await self.send(text_data=json.dumps(content, separators=(",", ":")))

    # --- channel-layer handlers ---------------------------------------------------------
    async def job_update(self, event: dict) -> None:
        """Forward one job's update, encoded once by its publisher (jobs.publish)."""
        await self.send(text_data=event["frame"])

    async def session_ended(self, event: dict) -> None:
        """Close sockets of a session that logged out."""
        session = self.scope.get("session")
        if getattr(session, "session_key", None) == event.get("session_key"):
            await self.close(code=CLOSE_UNAUTHENTICATED)
