"""How fast a campaign may send: one shared schedule of send slots, and every wait stoppable."""

from __future__ import annotations

import threading
import time


class Pace:
    """At most `rate` SMTP transactions per second across all of a campaign's connections.

    Slots are handed out `1 / rate` seconds apart, first come first served, and a slot left
    unused is not saved up: relays that cap the rate also refuse bursts, so a connection that
    was idle (a back-off, a reconnect) does not earn the right to send several at once.
    Waits are `stop.wait()`: no busy loop, and a cancel or a fatal error ends every one at once.
    `rate` 0: no cap.
    """

    def __init__(self, rate: float, stop: threading.Event) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.stop = stop
        self._next = 0.0
        self._lock = threading.Lock()

    @property
    def limited(self) -> bool:
        return self.interval > 0

    def turn(self, delay: float = 0.0) -> bool:
        """Wait `delay` seconds, then for the next send slot; False when the campaign stopped."""
        if delay > 0 and self.stop.wait(delay):
            return False
        if not self.interval:
            return not self.stop.is_set()
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            return not self.stop.wait(slot - now)
        return not self.stop.is_set()
