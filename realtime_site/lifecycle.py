"""Process lifecycle under an ASGI server: remember its loop, start the monitor, stop cleanly."""

from __future__ import annotations

import logging
import threading
from typing import Any

from jobs.broadcast import broadcaster

logger = logging.getLogger(__name__)

_started = threading.Event()


class ServerLoopMiddleware:
    """On the first ASGI call: bind the broadcaster to this loop (DESIGN trap 1), start the
    jobs monitor and hook graceful shutdown (trap 5)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if not _started.is_set():
            _started.set()
            broadcaster.bind_running_loop()
            _on_first_call()
        return await self.app(scope, receive, send)


def _on_first_call() -> None:
    from jobs.monitor import monitor

    monitor.ensure_started()
    _hook_twisted_shutdown()


def _hook_twisted_shutdown() -> None:
    """Under daphne, mark this server's jobs interrupted before the reactor stops."""
    try:
        from twisted.internet import reactor
    except ImportError:  # another ASGI server
        return
    if not reactor.running:
        return
    from twisted.internet.threads import deferToThread

    # The ORM may not run on the loop's thread, and the pushes need the loop free: do the work
    # in a thread and let the reactor wait for its Deferred before it stops.
    reactor.addSystemEventTrigger("before", "shutdown", lambda: deferToThread(graceful_shutdown))


def graceful_shutdown() -> None:
    """Stop taking jobs, mark this process's active jobs interrupted, push that, return."""
    from jobs.runner import runner
    from jobs.services import jobs_interrupt_own

    runner.accepting = False
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
