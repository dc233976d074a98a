"""Shared set-up for the benchmarks: a migrated database, a staff user, servers."""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.live import LiveClient  # noqa: E402
from tests.services import Daphne, Redis  # noqa: E402

USERNAME = "bench"
PASSWORD = "bench-password"
TERMINAL = {"succeeded", "failed", "cancelled", "interrupted"}


def manage(env: dict[str, str], *args: str) -> str:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "realtime_site.settings", **env}
    full.setdefault("DJANGO_PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full,
                            check=True, capture_output=True, text=True)
    return result.stdout


def sqlite_env() -> dict[str, str]:
    """A fresh, migrated SQLite database with one staff user."""
    workdir = Path(tempfile.mkdtemp(prefix="rt-bench-"))
    env = {"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "DJANGO_VAR_DIR": str(workdir),
           "MEDIA_ROOT": str(workdir / "media")}
    manage(env, "migrate", "--noinput", "-v0")
    create_user(env)
    return env


def create_user(env: dict[str, str]) -> None:
    manage(env, "shell", "-c",
           "from django.contrib.auth import get_user_model as g; U=g(); "
           f"U.objects.filter(username='{USERNAME}').delete(); "
           f"U.objects.create_superuser('{USERNAME}', 'b@example.com', '{PASSWORD}')")


async def open_sockets(server_url: str, clients: int = 1, **options: Any
                       ) -> tuple[LiveClient, list]:
    """Log the bench user in on `server_url`, open `clients` job sockets, read their snapshots.

    Returns the logged-in client (the caller closes it) and the sockets. The handshakes are
    sequential: 1,000 at once trip daphne's backlog. `options` go to websockets.connect.
    """
    import websockets

    client = LiveClient(server_url).login(USERNAME, PASSWORD)
    headers = {"Cookie": client.cookie_header(), "Origin": server_url}
    url = server_url.replace("http", "ws", 1) + "/ws/jobs/"
    sockets = [await websockets.connect(url, additional_headers=headers, max_size=2**22,
                                        **options) for _ in range(clients)]
    await asyncio.gather(*(ws.recv() for ws in sockets))  # snapshots
    return client, sockets


async def collect_stamped(sockets: list, timeout: float, job_id: list[str] | None = None
                          ) -> list[float]:
    """Arrival minus stamp of every stamped progress update on every socket, until a job ends;
    then close the sockets. `job_id`: filled in by the caller once it started the job, after
    which other jobs' updates are skipped."""
    latencies: list[float] = []

    async def reader(ws) -> None:
        while True:
            message = json.loads(await ws.recv())
            arrived = time.time()
            if message.get("type") != "job.update":
                continue
            job = message["job"]
            if job_id and job["id"] != job_id[0]:
                continue
            if job["status"] == "running" and job["message"][:1].isdigit():
                latencies.append(arrived - float(job["message"]))
            if job["status"] in TERMINAL:
                return

    await asyncio.wait_for(asyncio.gather(*(reader(ws) for ws in sockets)), timeout=timeout)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return latencies


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> tuple[str, str]:
    if not values:
        return "-", "-"
    return f"{statistics.median(values) * 1000:.1f}", f"{percentile(values, 99) * 1000:.1f}"


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


__all__ = ["Daphne", "LiveClient", "Redis", "collect_stamped", "create_user", "manage",
           "open_sockets", "sqlite_env", "summary_ms", "table"]
