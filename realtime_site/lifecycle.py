"""Process lifecycle under an ASGI server: remember its loop, start the monitor, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from typing import Any

from jobs.broadcast import broadcaster

logger = logging.getLogger(__name__)

_started = threading.Event()
_start_lock = threading.Lock()


class ServerLoopMiddleware:
    """On the first ASGI call: bind the broadcaster to this loop (DESIGN trap 1), start the
    jobs monitor and hook graceful shutdown (trap 5). Under daphne this already happened when
    the reactor started (see `install`); the middleware covers other ASGI servers."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if not _started.is_set():
            broadcaster.bind_running_loop()
            _start_process_services()
        return await self.app(scope, receive, send)


def install() -> None:
    """Called when the ASGI module is imported: start the monitor as soon as daphne runs.

    A server that got no request yet must still sweep stale jobs, or the bound of
    JOBS_STALE_AFTER + JOBS_HEARTBEAT_INTERVAL only holds while it has traffic (a fleet
    restarted at once would never mark its dead jobs). The reactor is installed by the
    `daphne` app in every process that loads Django, but runs only in a server, so
    `callWhenRunning` is a no-op in tests, `manage.py` and workers.
    """
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or reactor.running:
        return
    reactor.callWhenRunning(_on_reactor_running)


def _on_reactor_running() -> None:
    # No running asyncio loop (not the asyncio reactor): the middleware binds on the first call.
    with contextlib.suppress(RuntimeError):
        broadcaster.bind_running_loop()
    _start_process_services()


def _start_process_services() -> None:
    with _start_lock:
        if _started.is_set():
            return
        _started.set()
    from jobs.monitor import monitor

    monitor.ensure_started()
    _hook_twisted_shutdown()
    if os.environ.get("RT_LOOP_LAG_PROBE"):
        _start_loop_lag_probe(float(os.environ["RT_LOOP_LAG_PROBE"]))


def _hook_twisted_shutdown() -> None:
    """Under daphne, mark this server's jobs interrupted before the reactor stops."""
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not reactor.running:
        return  # another ASGI server
    from twisted.internet.threads import deferToThread

    # The ORM may not run on the loop's thread, and the pushes need the loop free: do the work
    # in a thread and let the reactor wait for its Deferred before it stops. Verified under
    # daphne 4.2.3 with a real SIGTERM in tests/fleet/test_recovery.py.
    reactor.addSystemEventTrigger("before", "shutdown", lambda: deferToThread(graceful_shutdown))


def graceful_shutdown() -> None:
    """Stop taking jobs, mark this process's active jobs interrupted, push that, return."""
    from jobs.monitor import monitor
    from jobs.runner import runner
    from jobs.services import jobs_interrupt_own

    runner.accepting = False
    monitor.stop()
    try:
        jobs = jobs_interrupt_own(reason="Its server was stopped; it can be started again.")
        logger.warning("shutdown: %d job(s) marked interrupted", len(jobs))
    except Exception:
        logger.exception("shutdown: could not mark jobs interrupted")
    finally:
        from django.db import connection

        connection.close()
    broadcaster.wait_idle(timeout=2.0)
    runner.shutdown(wait=False)


def _start_loop_lag_probe(period: float) -> None:
    """Benchmarks only (RT_LOOP_LAG_PROBE=<seconds>): log how late the event loop wakes up.

    Every `period` seconds a callback is scheduled; its lateness is the time the loop was
    blocked (by the GIL, a sync call on the loop...). One summary line every 5 s.
    """
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
            p = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
            logger.warning(
                "loop-lag n=%d p50=%.1fms p99=%.1fms max=%.1fms",
                len(ordered),
                p(0.5),
                p(0.99),
                ordered[-1],
            )
            samples.clear()
            last_report[0] = now
        loop.call_later(period, tick, time.monotonic() + period)

    loop.call_later(period, tick, time.monotonic() + period)
