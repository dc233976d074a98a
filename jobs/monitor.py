"""One thread per process: heartbeats for its jobs, the stale-job sweep, periodic chores.

Started by jobs.process, nowhere else. docs/architecture.md, trap 5: a server can die mid-job
without running any code. Its jobs stop beating;
whichever server sweeps next marks them `interrupted` within
JOBS_STALE_AFTER + JOBS_HEARTBEAT_INTERVAL seconds (40 + 10 by default, under the 60 s bound).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from jobs.services import jobs_beat, jobs_interrupt_stale
from jobs.ticker import Ticker

logger = logging.getLogger(__name__)


class Monitor(Ticker):
    name = "jobs-monitor"

    def __init__(self) -> None:
        super().__init__()
        self._periodic: list[tuple[Callable[[], object], float, list[float]]] = []

    def interval(self) -> float:
        return settings.JOBS_HEARTBEAT_INTERVAL

    def add_periodic(self, func: Callable[[], object], every: float) -> None:
        """Run `func` in the monitor thread every `every` seconds (first run after one period)."""
        self._periodic.append((func, every, [time.monotonic()]))

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


monitor = Monitor()
