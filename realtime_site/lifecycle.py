"""Process lifecycle under an ASGI server: hand the server's loop to jobs.process, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

from consumers import intake
from jobs import process


class ServerLoopMiddleware:
    """Give jobs.process the loop of every ASGI call (idempotent and cheap: one comparison
    once started). Under daphne this already happened when the reactor started (`install`);
    the middleware covers other ASGI servers, and test clients that bring a loop of their own."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        process.start(loop=asyncio.get_running_loop())
        _hook_twisted_shutdown()
        return await self.app(scope, receive, send)


def install() -> None:
    """Called when the ASGI module is imported: start the job machinery as soon as daphne runs.

    A server that got no request yet must still sweep stale jobs, or the bound of
    JOBS_STALE_AFTER + JOBS_HEARTBEAT_INTERVAL only holds while it has traffic (a fleet
    restarted at once would never mark its dead jobs). The reactor is installed by the
    `daphne` app in every process that loads Django, but runs only in a server, so
    `callWhenRunning` is a no-op in tests, `manage.py` and workers.
    """
    intake.install()
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or reactor.running:
        return
    reactor.callWhenRunning(_on_reactor_running)


def _on_reactor_running() -> None:
    loop = None
    # No running asyncio loop (not the asyncio reactor): the middleware binds on the first call.
    with contextlib.suppress(RuntimeError):
        loop = asyncio.get_running_loop()
    # A real server (the reactor runs): it may need to watch other processes' job rows.
    process.start(loop=loop, server=True)
    _hook_twisted_shutdown()


_hooked = False


def _hook_twisted_shutdown() -> None:
    """Under daphne, mark this server's jobs interrupted before the reactor stops."""
    global _hooked
    if _hooked:
        return
    reactor = sys.modules.get("twisted.internet.reactor")
    if reactor is None or not reactor.running:
        return  # another ASGI server
    _hooked = True
    from twisted.internet.threads import deferToThread

    # The ORM may not run on the loop's thread, and the pushes need the loop free: do the work
    # in a thread and let the reactor wait for its Deferred before it stops. Verified under
    # daphne 4.2.3 with a real SIGTERM in tests/fleet/test_recovery.py.
    reactor.addSystemEventTrigger("before", "shutdown", lambda: deferToThread(process.stop))
