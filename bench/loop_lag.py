"""The product's ASGI application with an event-loop lag probe, for bench/fleet.py only.

    daphne bench.loop_lag:application      (RT_LOOP_LAG_PROBE=<seconds>, default 0.02)

Every period a callback is scheduled on the server's loop; its lateness is the time the loop
was blocked (by the GIL, a sync call on the loop...). One summary line every 5 s is logged at
WARNING: `loop-lag n=... p50=...ms p99=...ms max=...ms`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

from realtime_site.asgi import application  # noqa: F401  (what daphne serves)

logger = logging.getLogger("bench.loop_lag")


def _probe(period: float) -> None:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # callWhenRunning fires before the reactor's loop runs; daphne set it
        loop = asyncio.get_event_loop()
    samples: list[float] = []
    last_report = [time.monotonic()]

    def tick(expected: float) -> None:
        now = time.monotonic()
        samples.append(max(0.0, now - expected) * 1000)
        if now - last_report[0] >= 5 and samples:
            ordered = sorted(samples)

            def p(q: float) -> float:
                return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

            logger.warning("loop-lag n=%d p50=%.1fms p99=%.1fms max=%.1fms",
                           len(ordered), p(0.5), p(0.99), ordered[-1])
            samples.clear()
            last_report[0] = now
        loop.call_later(period, tick, time.monotonic() + period)

    loop.call_later(period, tick, time.monotonic() + period)


_reactor = sys.modules.get("twisted.internet.reactor")
if _reactor is not None and not _reactor.running:
    _reactor.callWhenRunning(_probe, float(os.environ.get("RT_LOOP_LAG_PROBE", "0.02")))
