"""A thread of its own per process that runs `tick()` every `interval()` seconds.

The monitor (heartbeats, stale sweep, chores) and the watcher (other processes' job rows)
are both one; jobs.process starts them, nowhere else.
"""

from __future__ import annotations

import logging
import threading

from django.db import connection

logger = logging.getLogger(__name__)


class Ticker:
    name = "jobs-ticker"
    # Close this thread's database connection after every round (a round every 10 s: no
    # connection held between them), or only after a failed round (every second: keep it).
    close_each_round = True

    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def interval(self) -> float:
        raise NotImplementedError

    def wanted(self) -> bool:
        """Whether this process needs the thread at all."""
        return True

    def tick(self) -> object:
        raise NotImplementedError

    def ensure_started(self) -> None:
        """Start the thread once per process, when wanted; cheap to call often."""
        if not self.wanted() or (self._thread is not None and self._thread.is_alive()):
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.is_set():
            failed = False
            try:
                self.tick()
            except Exception:
                failed = True
                logger.exception("%s round failed", self.name)
            if failed or self.close_each_round:
                connection.close()  # a broken connection is opened again next round
            self._stop.wait(self.interval())
        connection.close()
