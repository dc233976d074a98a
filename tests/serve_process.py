"""`python -m realtime_site.serve` as a real process for tests and benchmarks.

It binds itself, or under systemd's own `systemd-socket-activate` takes fd 3 as
deploy/realtime-jobs.socket would pass it. Its log (the supervisor's and every child's
output) is the place readiness is read from.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests import socket_owners
from tests.services import ROOT, free_port, server_env, wait_for_port

LISTENING = re.compile(r"Listening on TCP address 127\.0\.0\.1:(\d+)")


class Supervised:
    """`python -m realtime_site.serve` with the fleet's environment, its log in test-output/."""

    def __init__(self, env: dict[str, str], log_dir: Path, processes: int = 2,
                 systemd: bool = False) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log_dir / f"serve-{self.port}.log"
        # Readiness is daphne's INFO line "Listening on TCP address" from each child.
        full = server_env({**env, "DJANGO_LOG_LEVEL": "INFO"})
        command = [sys.executable, "-m", "realtime_site.serve", "--processes", str(processes),
                   "--stop-timeout", "15"]
        if systemd:
            # systemd's own tool for socket activation: it binds, and on the first connection
            # execs the command with the socket as fd 3 and LISTEN_FDS/LISTEN_PID, exactly as
            # deploy/realtime-jobs.socket does. It passes on only the variables given with -E.
            command = ["systemd-socket-activate", "-l", f"127.0.0.1:{self.port}",
                       *(f"-E{key}={value}" for key, value in full.items()), *command]
        else:
            command += ["--bind", f"127.0.0.1:{self.port}"]
        self.process = subprocess.Popen(command, cwd=ROOT, env=full, stdout=self.log.open("ab"),
                                        stderr=subprocess.STDOUT)
        wait_for_port("127.0.0.1", self.port, timeout=30, process=self.process, log=self.log)
        self.wait_listening(processes)

    def wait_listening(self, count: int, timeout: float = 30) -> None:
        """Until `count` children have said they adopted the socket. The port opens when the
        supervisor listens, before any child accepts: the children's log line is the event."""
        deadline = time.monotonic() + timeout
        while len(LISTENING.findall(self.log.read_text(errors="replace"))) < count:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, self.log.read_text()[-3000:]
            time.sleep(0.05)  # polling the log: the line itself is the event

    def children(self) -> list[int]:
        return socket_owners.children(self.process.pid)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode
