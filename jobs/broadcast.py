"""Send to channel-layer groups from any thread without blocking the caller.

docs/architecture.md, trap 1: with the in-process layer, a `group_send` from a job thread through
`async_to_sync` runs on a throwaway loop and does not wake the server's loop, so messages
arrive seconds late or never. Every send here is scheduled on the loop that owns the
receiving queues: the server's loop, remembered from the first ASGI call, or, in a process
with no server (a management command, a benchmark), one long-lived private loop thread.

Trap 2: a fresh loop and connection per send costs ~7 ms with Redis; here the loop
and the layer's connections live as long as the process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class Broadcaster:
    """Fire-and-forget group sends, scheduled on the right event loop."""

    def __init__(self, *, max_pending: int = 2000, send_timeout: float = 2.0) -> None:
        self.max_pending = max_pending
        self.send_timeout = send_timeout
        self._server_loop: asyncio.AbstractEventLoop | None = None
        self._private_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0
        self.sent = 0
        self.dropped = 0
        self.errors = 0
        self._last_error_log = 0.0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Remember `loop` as the server loop; a live loop already bound keeps its place.

        Called by jobs.process.start only.
        """
        current = self._server_loop
        if current is loop:
            return
        if current is None or current.is_closed() or not current.is_running():
            self._server_loop = loop

    def unbind(self) -> None:
        """Forget the server loop (tests that stop their loop)."""
        self._server_loop = None

    def _target_loop(self) -> asyncio.AbstractEventLoop:
        loop = self._server_loop
        if loop is not None and loop.is_running() and not loop.is_closed():
            return loop
        with self._lock:
            if self._private_loop is None or self._private_loop.is_closed():
                self._private_loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._private_loop.run_forever, name="broadcaster-loop", daemon=True
                )
                thread.start()
            return self._private_loop

    def send(self, group: str, message: dict[str, Any]) -> bool:
        """Schedule a group send; return False when it was dropped because too many are pending."""
        with self._lock:
            if self._pending >= self.max_pending:
                self.dropped += 1
                return False
            self._pending += 1
        try:
            future = asyncio.run_coroutine_threadsafe(
                self._send(group, message), self._target_loop()
            )
        except RuntimeError:  # loop closed between the check and the call
            with self._lock:
                self._pending -= 1
                self.dropped += 1
            return False
        future.add_done_callback(self._finished)
        return True

    def _finished(self, _future: Any) -> None:
        with self._lock:
            self._pending -= 1
            if self._pending == 0:
                self._idle.notify_all()

    async def _send(self, group: str, message: dict[str, Any]) -> None:
        layer = get_channel_layer()
        if layer is None:
            return
        try:
            # Bounded so a dead Redis never piles up waiting coroutines (trap 3).
            await asyncio.wait_for(layer.group_send(group, message), self.send_timeout)
            self.sent += 1
        except Exception as exc:
            self.errors += 1
            now = time.monotonic()
            if now - self._last_error_log > 10:  # one line per 10 s while the layer is down
                self._last_error_log = now
                logger.warning("channel layer send to %s failed: %r", group, exc)

    @property
    def pending(self) -> int:
        return self._pending

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Block until every scheduled send has finished (tests and shutdown)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._pending == 0, timeout)


broadcaster = Broadcaster()
