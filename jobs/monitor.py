"""One thread per process: heartbeats for its jobs, the stale-job sweep, periodic chores.

Started by jobs.process, nowhere else. docs/architecture.md, trap 5: a server can die mid-job
without running any code. Its jobs stop beating;
whichever server sweeps next marks them `interrupted` within
JOBS_STALE_AFTER + JOBS_HEARTBEAT_INTERVAL seconds (40 + 10 by default, under the 60 s bound).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.services import jobs_beat, jobs_interrupt_stale

logger = logging.getLogger(__name__)


class Monitor:
    def __init__(self) -> None:
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._periodic: list[tuple[Callable[[], object], float, list[float]]] = []

    def add_periodic(self, func: Callable[[], object], every: float) -> None:
        """Run `func` in the monitor thread every `every` seconds (first run after one period)."""
        self._periodic.append((func, every, [time.monotonic()]))

    def ensure_started(self) -> None:
        """Start the thread once per process; cheap to call often."""
        if self._thread is not None and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="jobs-monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def tick(self) -> None:
        """One round: beat, sweep, run due periodic tasks."""
        jobs_beat()
        stale_before = timezone.now() - timedelta(seconds=settings.JOBS_STALE_AFTER)
        jobs_interrupt_stale(stale_before=stale_before)
        now = time.monotonic()
        for func, every, last in self._periodic:
            if now - last[0] >= every:
                last[0] = now
                try:
                    func()
                except Exception:
                    logger.exception("periodic task %s failed", getattr(func, "__name__", func))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:
                logger.exception("jobs monitor round failed")
            finally:
                connection.close()
            self._stop.wait(settings.JOBS_HEARTBEAT_INTERVAL)


monitor = Monitor()
