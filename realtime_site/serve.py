"""Several daphne processes on one port: bind once, run N `daphne --fd` children, keep them up.

    python -m realtime_site.serve --processes 2 --bind 0.0.0.0:8000 [-- daphne options]
    python manage.py serve --processes 2 --bind 0.0.0.0:8000          (the same)

One Python process serves about 1,000 sockets before its push latency passes the goal
(README, "Measured"): the event loop, not the CPU count, is the limit. This supervisor owns
one listening socket and hands it to every child (`daphne --fd N`, which adopts it through
twisted's AdoptedStreamServerEndpoint). All children accept on the same socket; the kernel
wakes them all for a new connection and the first to call accept() gets it, so an idle child
takes more than a busy one (tests/fleet/test_serve.py shows both get sockets; bench/fleet.py
measures the spread). While a child restarts, the others keep accepting: the port never
refuses a connection.

The processes of one host see each other's pushes only through a shared channel layer and
database: set REDIS_URL and DATABASE_URL (PostgreSQL) exactly as for several hosts. With the
embedded default each child would have its own in-process layer.

Signals: SIGTERM or SIGINT is forwarded to every child as SIGTERM (each marks its running
jobs `interrupted`, realtime_site/lifecycle.py); the supervisor exits once they all have,
killing what is left after --stop-timeout. A child that dies otherwise is started again
(at once when it had run for a while, with a growing pause when it keeps dying at start).

Under systemd socket activation (LISTEN_FDS, see deploy/realtime-jobs.socket) the supervisor
takes fd 3 from systemd instead of binding. IPv4 only: daphne's `--fd` adopts AF_INET.
POSIX only (fork, signal masks); Linux also ties the children's life to the supervisor's.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD_FIRST_FD = 3  # sd_listen_fds(3): passed sockets start at fd 3
QUICK_DEATH = 10.0  # a child that dies sooner than this after its start is "crash looping"
MAX_PAUSE = 10.0
HANDLED = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}


def log(message: str) -> None:
    print(f"serve[{os.getpid()}]: {message}", file=sys.stderr, flush=True)


def parse_bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host or ":" in host:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not HOST:PORT with an IPv4 host (e.g. 0.0.0.0:8000)")
    return host, int(port)


def listening_socket(bind: tuple[str, int], backlog: int) -> socket.socket:
    """fd 3 from systemd when it passed one to this very process, else a socket of our own."""
    if os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS"):
        sock = socket.socket(fileno=SYSTEMD_FIRST_FD)
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):  # not for the children
            os.environ.pop(name, None)
        log(f"using the socket systemd passed ({sock.getsockname()[0]}:{sock.getsockname()[1]})")
    else:
        sock = socket.create_server(bind, backlog=backlog, reuse_port=False)
    sock.set_inheritable(True)
    return sock


def _child_setup() -> None:
    """Runs in the child between fork and exec: undo the supervisor's blocked signals (a mask
    survives exec, and daphne would never see SIGTERM) and die with the supervisor, so that a
    `kill -9` of it leaves no orphan holding the port."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, Linux


class Child:
    def __init__(self, index: int) -> None:
        self.index = index
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.quick_deaths = 0
        self.due: float | None = None  # when to start it again


class Supervisor:
    def __init__(self, sock: socket.socket, processes: int, app: str, daphne_args: list[str],
                 stop_timeout: float) -> None:
        self.sock = sock
        self.children = [Child(i) for i in range(1, processes + 1)]
        self.command = [sys.executable, "-m", "daphne", "--fd", str(sock.fileno()),
                        *daphne_args, app]
        self.stop_timeout = stop_timeout
        self.stopping_since: float | None = None

    def spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(self.command, cwd=ROOT,
                                         pass_fds=(self.sock.fileno(),),
                                         preexec_fn=_child_setup)
        child.started, child.due = time.monotonic(), None
        log(f"child {child.index} started, pid {child.process.pid}")

    def live(self) -> list[Child]:
        return [c for c in self.children if c.process is not None]

    def reap(self) -> None:
        for child in self.live():
            code = child.process.poll()
            if code is None:
                continue
            pid, child.process = child.process.pid, None
            if self.stopping_since is not None:
                log(f"child {child.index} (pid {pid}) stopped with {code}")
                continue
            lived = time.monotonic() - child.started
            child.quick_deaths = child.quick_deaths + 1 if lived < QUICK_DEATH else 0
            pause = min(MAX_PAUSE, 0.5 * 2 ** (child.quick_deaths - 1)) if child.quick_deaths else 0
            child.due = time.monotonic() + pause
            log(f"child {child.index} (pid {pid}) exited with {code} after {lived:.1f} s; "
                f"starting it again in {pause:.1f} s")

    def stop(self, signo: int) -> None:
        if self.stopping_since is None:
            log(f"{signal.Signals(signo).name}: stopping {len(self.live())} children")
            self.stopping_since = time.monotonic()
        for child in self.live():
            with contextlib.suppress(ProcessLookupError):
                child.process.send_signal(signal.SIGTERM)

    def timeout(self) -> float | None:
        """Seconds until the next thing to do without a signal (a restart, the kill)."""
        if self.stopping_since is not None:
            return max(0.0, self.stopping_since + self.stop_timeout - time.monotonic())
        dues = [c.due for c in self.children if c.due is not None]
        return max(0.0, min(dues) - time.monotonic()) if dues else None

    def run(self) -> int:
        # Signals are taken synchronously (sigwaitinfo) instead of in handlers: no race between
        # "a child died" and "we were asked to stop", and no EINTR juggling around waits.
        # SIGCHLD's default action is "ignore": give it a handler so it is surely queued.
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        for child in self.children:
            self.spawn(child)
        while True:
            wait = self.timeout()
            info = (signal.sigwaitinfo(HANDLED) if wait is None
                    else signal.sigtimedwait(HANDLED, wait))
            if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT):
                self.stop(info.si_signo)
            self.reap()
            if self.stopping_since is not None:
                if not self.live():
                    log("all children stopped")
                    return 0
                if time.monotonic() - self.stopping_since >= self.stop_timeout:
                    for child in self.live():
                        log(f"child {child.index} (pid {child.process.pid}) did not stop "
                            f"within {self.stop_timeout:g} s: SIGKILL")
                        child.process.kill()
                        child.process.wait()
                        child.process = None
                    return 1
                continue
            now = time.monotonic()
            for child in self.children:
                if child.process is None and child.due is not None and child.due <= now:
                    self.spawn(child)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    parser = parser or argparse.ArgumentParser(
        prog="python -m realtime_site.serve", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="daphne processes to run (default: one per CPU)")
    parser.add_argument("--bind", type=parse_bind, default=("127.0.0.1", 8000),
                        help="IPv4 HOST:PORT to listen on (default 127.0.0.1:8000); ignored "
                             "when systemd passes a socket")
    parser.add_argument("--backlog", type=int, default=1024,
                        help="listen queue length (the kernel caps it at net.core.somaxconn)")
    parser.add_argument("--app", default="realtime_site.asgi:application")
    parser.add_argument("--stop-timeout", type=float, default=30.0,
                        help="seconds the children get after SIGTERM before SIGKILL")
    parser.add_argument("daphne_args", nargs="*", metavar="-- DAPHNE_OPTION",
                        help="passed to every daphne, e.g. -- --proxy-headers")
    return parser


def serve(options: argparse.Namespace) -> int:
    if options.processes < 1:
        log("--processes must be at least 1")
        return 2
    try:
        sock = listening_socket(options.bind, options.backlog)
    except OSError as exc:
        log(f"cannot listen on {options.bind[0]}:{options.bind[1]}: {exc.strerror}")
        return 2
    host, port = sock.getsockname()[:2]
    log(f"listening on {host}:{port}, {options.processes} daphne processes")
    return Supervisor(sock, options.processes, options.app, options.daphne_args,
                      options.stop_timeout).run()


def main(argv: list[str] | None = None) -> int:
    return serve(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
