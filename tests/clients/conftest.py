"""The rtjobs client against a real daphne of its own (so it can be restarted and killed),
with access tokens made through tokens.services; the command runs in its own process."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.factories import make_user
from tests.services import ROOT, Daphne
from tokens.services import token_create

CLIENT_SRC = ROOT / "clients" / "python" / "src"
# The Python API tests import this checkout's client, whatever the venv holds.
if str(CLIENT_SRC) not in sys.path:
    sys.path.insert(0, str(CLIENT_SRC))


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, media_root, output_dir,
           tmp_path_factory) -> Iterator[Daphne]:
    """daphne on the test database file; a short stale bound so that a killed server's jobs
    are swept soon after the next one starts; its export scratch folder is known
    (`server.export_tmp`) so a test can make it unusable."""
    from django.db import connection

    var = tmp_path_factory.mktemp("rtjobs-var")
    env = {
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "MEDIA_ROOT": str(media_root),
        "DJANGO_VAR_DIR": str(var),
        "EXPORT_TMP_DIR": str(var / "exports-tmp"),
        "JOBS_HEARTBEAT_INTERVAL": "1",
        "JOBS_STALE_AFTER": "2",
    }
    daphne = Daphne(env=env, log_dir=output_dir, name="daphne-rtjobs").start()
    daphne.export_tmp = Path(env["EXPORT_TMP_DIR"])
    yield daphne
    daphne.stop()


@pytest.fixture
def holder(transactional_db):
    return make_user(staff=True)


@pytest.fixture
def token(holder) -> str:
    return token_create(user=holder)[1]


def command_env(server: Daphne | None, token: str | None, **extra: str) -> dict[str, str]:
    """The environment of an `rtjobs` process: this checkout's client, JOBS_URL/JOBS_TOKEN."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           "PYTHONPATH": str(CLIENT_SRC), "PYTHONUNBUFFERED": "1"}
    if server is not None:
        env["JOBS_URL"] = server.url
    if token is not None:
        env["JOBS_TOKEN"] = token
    env.update(extra)
    return env


def rtjobs_argv(*args: str) -> list[str]:
    """The `rtjobs` console script `make` installs into the venv (editable: this checkout's
    code; PYTHONPATH above puts clients/python/src first anyway), else `python -m rtjobs`,
    the script's own entry point (rtjobs.cli:main), where the venv lacks it."""
    script = Path(sys.executable).parent / "rtjobs"
    if script.exists():
        return [str(script), *args]
    return [sys.executable, "-m", "rtjobs", *args]


def rtjobs(*args: str, env: dict[str, str], cwd: Path | None = None,
           timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run(rtjobs_argv(*args), env=env, cwd=cwd or ROOT, capture_output=True,
                          text=True, timeout=timeout)


class Running:
    """An `rtjobs` process whose stderr lines are read as they come (a reader thread)."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(rtjobs_argv(*args), env=env, cwd=ROOT, text=True,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            self._queue.put(line)
        self._queue.put(None)

    def wait_line(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        """The first (next) stderr line that matches; fails at EOF or after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching line in {timeout} s: {self.lines[-5:]}")
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"rtjobs ended without it: {self.lines[-8:]}")
            self.lines.append(line)
            if predicate(line):
                return line

    def finish(self, timeout: float = 60) -> tuple[int, str, str]:
        """(exit status, stdout, the stderr lines not read yet joined with those read)."""
        code = self.process.wait(timeout)
        stdout = self.process.stdout.read()
        self._reader.join(10)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None):
            self.lines.append(line)
        return code, stdout, "".join(self.lines)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
