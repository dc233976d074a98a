"""A frame budget at daphne's intake, before a frame is queued for the application.

daphne puts every incoming frame on an unbounded asyncio.Queue (`onMessage`, `put_nowait`);
the consumer reads that queue one frame at a time. A client that sends tiny frames faster
than the consumer handles them (each `sync` is a database read) filled it at network speed:
100,000 frames in about a second, +82 MiB of server memory, another user's requests at
1.7 s p99, before the consumer's own budget (consumers.limits) even saw frame 41. Here the
same budget is spent as the frame arrives; over it, the socket is closed with 4008 and later
frames are dropped unread.
"""

from __future__ import annotations

import logging

from django.conf import settings

from consumers.limits import FrameBudget

logger = logging.getLogger(__name__)

# A flood: RFC 6455's 1008 (policy violation) in the application range, because daphne's
# autobahn lets an application close only with 1000 or 3000-4999 (1008 raised, then 1011).
CLOSE_POLICY = 4008


def socket_budget() -> FrameBudget:
    """The per-socket budget both layers apply (JOBS_WS_RATE frames/s, JOBS_WS_BURST)."""
    return FrameBudget(
        frames_per_second=settings.JOBS_WS_RATE, burst=settings.JOBS_WS_BURST,
        chars_per_second=settings.JOBS_WS_RATE * 16 * 1024,
        chars_burst=1024 * 1024,  # daphne's own cap on one message
    )


def install() -> None:
    """Wrap daphne's WebSocketProtocol.onMessage once per process (no-op without daphne)."""
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another ASGI server: the consumer's own budget still applies
        return
    if getattr(WebSocketProtocol, "_frame_budget_installed", False):
        return
    on_message = WebSocketProtocol.onMessage

    def guarded(self, payload: bytes, isBinary: bool) -> None:
        if self.muted:
            return
        budget = self.__dict__.get("_frame_budget")
        if budget is None:
            budget = self._frame_budget = socket_budget()
        if budget.allows(len(payload)):
            on_message(self, payload, isBinary)
            return
        logger.warning("WebSocket %s closed at intake: more than its frame budget",
                       self.client_addr)
        # Muted, daphne drops later frames and does not report the close: tell the app here.
        self.muted = True
        if hasattr(self, "application_queue"):
            self.application_queue.put_nowait({"type": "websocket.disconnect",
                                               "code": CLOSE_POLICY})
        self.sendClose(code=CLOSE_POLICY)
        # And read nothing more: parsing the frames still in flight (a flooder sends
        # thousands more before it sees the close) kept the event loop busy for everyone.
        # autobahn drops the connection when the close handshake times out.
        self.transport.pauseProducing()

    WebSocketProtocol.onMessage = guarded
    WebSocketProtocol._frame_budget_installed = True
