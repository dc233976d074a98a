"""The one owner of per-process job machinery: the server loop, the monitor, periodic chores.

A web server calls `start(loop=...)` when its event loop runs (realtime_site.lifecycle);
a foreground job (`manage.py run_job`, a benchmark) calls `start()` before it runs. Both are
idempotent. Nothing else starts the monitor or binds the broadcaster.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

from django.db import connection

from jobs import kinds
from jobs.broadcast import broadcaster
from jobs.models import Job
from jobs.monitor import monitor
from jobs.progress import Reporter
from jobs.runner import execute, runner
from jobs.services import job_interrupt, jobs_held, jobs_interrupt_own
from jobs.watch import watcher

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_started = False
# Job code stops at its next report or check: a demo step, one email, one export chunk, well
# under a second; the bound keeps SIGTERM prompt if some code does not report for long.
STOP_WAIT = 3.0


def start(*, loop: asyncio.AbstractEventLoop | None = None, server: bool = False) -> None:
    """Bind pushes to `loop` (the server's; docs/architecture.md, trap 1), register every
    kind's periodic chores and start the monitor thread, once per process.

    `server`: this process serves sockets (daphne's reactor is running): on the in-process
    channel layer it also watches for job rows other processes change (jobs/watch.py).
    """
    global _started
    if loop is not None:
        broadcaster.bind(loop)
    if server:
        watcher.ensure_started()
    if _started:
        return
    with _lock:
        if _started:
            return
        for kind in kinds.every():
            for func, every in kind.periodic:
                monitor.add_periodic(func, every)
        monitor.ensure_started()
        _started = True


def stop() -> None:
    """Graceful shutdown: stop taking jobs, mark this process's active jobs interrupted and
    push that, give their threads up to STOP_WAIT to stop at their next report (each then
    writes and pushes its final counts while the loop still runs: trap 18), then let the
    pool go."""
    runner.accepting = False
    monitor.stop()
    watcher.stop()
    try:
        jobs = jobs_interrupt_own(reason="Its server was stopped; it can be started again.")
        logger.warning("shutdown: %d job(s) marked interrupted", len(jobs))
    except Exception:
        logger.exception("shutdown: could not mark jobs interrupted")
    finally:
        connection.close()
    if not runner.wait_stopped(timeout=STOP_WAIT):
        logger.warning("shutdown: job code still running after %.0f s; its final counts may "
                       "reach the browsers only at their next snapshot", STOP_WAIT)
    broadcaster.wait_idle(timeout=2.0)
    runner.shutdown(wait=False)


def run_foreground(
    *, create: Callable[[], Job], reporter_factory: Callable[[Job], Reporter] | None = None,
    on_created: Callable[[Job], None] | None = None,
) -> Job:
    """Create one job with `create` (a kind's own start service) and run it in this thread.

    For operator commands and benchmarks: the row is real, so the owner's dashboard shows it;
    `reporter_factory` lets the caller draw the same progress; this process heartbeats it, so
    no server takes it for dead. Ctrl-C marks the job interrupted (the end hook runs), then
    re-raises. Returns the job, finished.
    """
    with jobs_held() as held:
        create()
    if len(held) != 1:
        raise RuntimeError(f"create() must create exactly one job; it created {len(held)}.")
    job = held[0]
    start()
    if on_created is not None:
        on_created(job)
    made: list[Reporter] = []

    def reporter(job: Job) -> Reporter:
        made.append((reporter_factory or Reporter)(job))
        return made[-1]

    try:
        execute(str(job.pk), reporter_factory=reporter)
    except KeyboardInterrupt:
        # The run's notes (a campaign's SMTP connections) reach the end hook as they would
        # from the runner: the summary then gives the real count, not "n/a".
        job_interrupt(job_id=job.pk, reason="Stopped from the terminal (Ctrl-C).",
                      notes=made[-1].notes if made else None)
        raise
    job.refresh_from_db()
    return job
