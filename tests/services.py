"""Real servers for the tests: Redis, PostgreSQL, daphne. Given by URL or started privately."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(host: str, port: int, *, timeout: float, process: subprocess.Popen | None = None,
                  log: Path | None = None) -> None:
    """Block until host:port accepts a connection (or the process died, or time ran out)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            tail = log.read_text()[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.2):
            return
        time.sleep(0.05)  # polling a port that has no event to wait on
    raise TimeoutError(f"{host}:{port} did not open within {timeout} s")


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(*packages: str) -> bool:
    """Install Debian packages when root; False when that is not possible."""
    if not _is_root() or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
    result = subprocess.run(["apt-get", "install", "-y", "-qq", *packages], env=env,
                            capture_output=True, check=False)
    return result.returncode == 0


class Redis:
    """A private redis-server on a free port, or the one REDIS_URL names."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = os.environ.get("REDIS_URL", "")
        self.port: int | None = None
        self.dir: str | None = None

    def start(self) -> str:
        if self.url:
            return self.url
        binary = shutil.which("redis-server")
        if binary is None and apt_install("redis-server"):
            binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: set REDIS_URL or install redis-server")
        self.port = self.port or free_port()
        self.dir = self.dir or tempfile.mkdtemp(prefix="rt-redis-")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--logfile", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", self.port, timeout=10, process=self.process)
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def private(self) -> bool:
        return not os.environ.get("REDIS_URL")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


def _wait_accepting(url: str, *, timeout: float) -> None:
    """An open port is not a ready server: until recovery ends, PostgreSQL answers every
    connection with "the database system is starting up" (seen under load in CI). Connect
    until one succeeds; each failed attempt returns at once, so this is the server's own pace."""
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError as exc:
            if "starting up" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # the server gives no event to wait on; poll, bounded


class Postgres:
    """A private PostgreSQL cluster in a temporary folder, or the server DATABASE_URL names."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.url = os.environ.get("DATABASE_URL", "")
        if self.url and not self.url.startswith(("postgres://", "postgresql://")):
            self.url = ""

    def start(self) -> str:
        if self.url:
            return self.url
        if _pg_bin("initdb") is None:
            apt_install("postgresql")
        initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
        if initdb is None or postgres is None:
            raise RuntimeError("PostgreSQL is missing: set DATABASE_URL or install postgresql")
        data = tempfile.mkdtemp(prefix="rt-pg-")
        prefix: list[str] = []
        if _is_root():  # postgres refuses to run as root
            shutil.chown(data, "postgres", "postgres")
            prefix = ["runuser", "-u", "postgres", "--"]
        subprocess.run([*prefix, initdb, "-D", data, "-A", "trust", "-U", "postgres",
                        "--no-sync", "-E", "UTF8"], check=True, capture_output=True)
        port = free_port()
        self.process = subprocess.Popen(
            [*prefix, postgres, "-D", data, "-p", str(port), "-h", "127.0.0.1", "-k", data,
             "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_for_port("127.0.0.1", port, timeout=30, process=self.process)
        url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        _wait_accepting(url, timeout=30)
        return url

    def create_database(self, base_url: str, name: str) -> str:
        """Create an empty database next to base_url's and return its URL."""
        import psycopg

        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            conn.execute(f'CREATE DATABASE "{name}"')
        parts = urlsplit(base_url)
        return parts._replace(path=f"/{name}").geturl()

    def drop_database(self, base_url: str, name: str) -> None:
        import psycopg

        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(20)
            self.process = None


def server_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a server process the tests start: the real settings, a clean
    environment (nothing of the shell's but PATH and HOME), the demo endpoint, fast hashes;
    `env` on top."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
        "PYTHONUNBUFFERED": "1",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "JOBS_DEMO_ENDPOINT": "1",
        "DJANGO_PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
        **env,
    }


class Daphne:
    """A real daphne process serving realtime_site with the real settings."""

    def __init__(self, *, env: dict[str, str], log_dir: Path, name: str = "daphne",
                 app: str = "realtime_site.asgi:application") -> None:
        self.port = free_port()
        self.env = env
        self.app = app
        self.log = log_dir / f"{name}-{self.port}.log"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> Daphne:
        env = server_env(self.env)
        handle = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port),
             self.app],
            cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
        )
        wait_for_port("127.0.0.1", self.port, timeout=30, process=self.process, log=self.log)
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        code = self.process.returncode
        self.process = None
        return code

    def restart(self) -> Daphne:
        self.stop()
        return self.start()
