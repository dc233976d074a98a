"""A real SMTP server (aiosmtpd) for tests and the benchmark: counts, refuses, drops, throttles.

In-process: `Sink(refuse={...}, drop_once={...}).start()`. As a process (bench):
`python -m tests.campaigns.sink --port P [--latency-ms 20]`; SIGTERM prints {"connections",
"messages", "received_at"} as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import threading
import time
from collections import Counter
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.services import free_port

THROTTLE_REPLY = "451 4.7.1 Rate limited, try later"


class Handler:
    def __init__(self, *, refuse: set[str], drop_once: set[str], delay: float, keep: bool,
                 hold_after: int | None = None, latency: float = 0.0, throttle: int = 0,
                 throttle_reply: str = THROTTLE_REPLY, throttle_at: str = "RCPT") -> None:
        self.refuse = {a.lower() for a in refuse}
        # The next `busy_greetings` connections are greeted 421 and closed (set it once
        # started: the Controller's own probe connection would take one).
        self.busy_greetings = 0
        # Every reply waits this long, as a remote relay's would (one round trip).
        self.latency = latency
        # The first `throttle` transactions are answered `throttle_reply` at RCPT or at the
        # end of DATA (then the message is not kept).
        self.throttle = throttle
        self.throttle_reply = throttle_reply
        self.throttle_at = throttle_at
        self.throttled: list[str] = []
        # time.monotonic() of each accepted message, in order.
        self.received_at: list[float] = []
        # After this many messages, DATA gets no reply until release(): the client waits
        # inside its SMTP exchange, as a killed process would have been.
        self.hold_after = hold_after
        self.held = 0
        self._release: asyncio.Event | None = None
        self.drop_once = {a.lower() for a in drop_once}
        self.delay = delay
        self.keep = keep
        self.connections = 0
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.count = 0
        self.refused = Counter()
        self.dropped: list[str] = []
        self.delivered = threading.Condition()

    def _throttled(self, address: str) -> str:
        with self.delivered:
            self.throttled.append(address)
            self.delivered.notify_all()
        return self.throttle_reply

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        lowered = address.lower()
        if lowered in self.refuse:
            self.refused[lowered] += 1
            return "550 5.1.1 No such user here"
        if self.throttle_at == "RCPT" and len(self.throttled) < self.throttle:
            return self._throttled(lowered)
        if lowered in self.drop_once:
            self.drop_once.discard(lowered)
            self.dropped.append(lowered)
            server.transport.abort()  # the connection drops mid-session, no reply
            return "421 4.4.2 Connection dropped"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.throttle_at == "DATA" and len(self.throttled) < self.throttle:
            return self._throttled(envelope.rcpt_tos[0].lower())
        if self.hold_after is not None and self.count >= self.hold_after:
            if self._release is None:
                self._release = asyncio.Event()
            with self.delivered:
                self.held += 1
                self.delivered.notify_all()
            await self._release.wait()
            return "451 4.3.0 Held and never accepted"
        with self.delivered:
            self.count += 1
            self.received_at.append(time.monotonic())
            if self.keep:
                self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                                      envelope.original_content or envelope.content))
            self.delivered.notify_all()
        return "250 2.0.0 Queued"


class _CountingSMTP(SMTP):
    def connection_made(self, transport):
        self.event_handler.connections += 1
        super().connection_made(transport)

    async def _handle_client(self):
        handler = self.event_handler
        if handler.busy_greetings > 0:
            handler.busy_greetings -= 1
            with handler.delivered:
                handler.throttled.append("(greeting)")
                handler.delivered.notify_all()
            await self.push("421 4.7.0 Too many connections, try later")
            self.transport.close()
            return
        await super()._handle_client()

    async def push(self, status):
        # The last line of each reply waits (a multi-line EHLO reply waits once, like one
        # packet from a remote server would).
        line = status if isinstance(status, str) else status.decode("ascii", "replace")
        if self.event_handler.latency and line[3:4] != "-":
            await asyncio.sleep(self.event_handler.latency)
        await super().push(status)


class _Controller(Controller):
    def factory(self):
        return _CountingSMTP(self.handler, **self.SMTP_kwargs)


class Sink:
    """aiosmtpd on a free port in a thread of this process."""

    def __init__(self, *, refuse: set[str] = frozenset(), drop_once: set[str] = frozenset(),
                 delay: float = 0.0, keep: bool = True, port: int | None = None,
                 hold_after: int | None = None, latency: float = 0.0, throttle: int = 0,
                 throttle_reply: str = THROTTLE_REPLY, throttle_at: str = "RCPT") -> None:
        self.handler = Handler(refuse=set(refuse), drop_once=set(drop_once), delay=delay,
                               keep=keep, hold_after=hold_after, latency=latency,
                               throttle=throttle, throttle_reply=throttle_reply,
                               throttle_at=throttle_at)
        self.port = port or free_port()
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                      ready_timeout=10)

    def start(self) -> Sink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def release(self) -> None:
        """Answer the held DATA commands with 451 (not accepted) and accept from now on."""
        handler = self.handler
        handler.hold_after = None
        if handler._release is not None:
            self.controller.loop.call_soon_threadsafe(handler._release.set)

    def wait_held(self, count: int, timeout: float = 30) -> bool:
        with self.handler.delivered:
            return self.handler.delivered.wait_for(lambda: self.handler.held >= count, timeout)

    def wait_throttled(self, count: int, timeout: float = 30) -> bool:
        with self.handler.delivered:
            return self.handler.delivered.wait_for(
                lambda: len(self.handler.throttled) >= count, timeout)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 30) -> bool:
        """Block until `count` messages arrived (or time ran out)."""
        with self.handler.delivered:
            return self.handler.delivered.wait_for(lambda: self.handler.count >= count, timeout)

    def recipients(self) -> Counter:
        """How many messages each address received."""
        return Counter(r.lower() for _f, rcpts, _d in self.handler.messages for r in rcpts)

    def parsed(self) -> list[EmailMessage]:
        return [message_from_bytes(data, policy=policy.default)
                for _f, _r, data in self.handler.messages]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay every reply by this much, as a remote relay would")
    args = parser.parse_args()
    sink = Sink(port=args.port, keep=False, latency=args.latency_ms / 1000).start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    print("ready", flush=True)
    while not stop.wait(0.5):
        pass
    sink.stop()
    print(json.dumps({"connections": sink.handler.connections,
                      "messages": sink.handler.count, "received_at": sink.handler.received_at}),
          flush=True)


if __name__ == "__main__":
    main()
