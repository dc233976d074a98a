"""Fleet fixtures: a fresh PostgreSQL database per module, users, several daphne processes.

The servers share PostgreSQL, Redis and a media folder exactly like the compose file's
`web1`/`web2`; they run the real `realtime_site.settings` with small heartbeat values so the
stale-job bound is a few seconds instead of a minute.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import psycopg
import pytest

from tests.factories import PASSWORD
from tests.live import LiveClient, Socket
from tests.services import ROOT, Daphne

HEARTBEAT = 0.5
STALE_AFTER = 2.0
# A job of a dead server must be `interrupted` within this many seconds (plus one sweep).
STALE_BOUND = STALE_AFTER + HEARTBEAT


def update_of(job_id: str, test: Callable[[dict], bool]) -> Callable[[dict], bool]:
    """A `recv_until` predicate: a `job.update` of `job_id` whose job passes `test`."""
    return lambda m: m.get("type") == "job.update" and m["job"]["id"] == job_id and test(m["job"])


def run_manage(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run manage.py against the fleet's database in a subprocess, like a deploy step would."""
    full = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done.stdout


class FleetDB:
    """One migrated PostgreSQL database; users are inserted with SQL (no Django in-process)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def make_user(
        self, *, staff: bool = True, superuser: bool = False, username: str | None = None
    ) -> str:
        from django.contrib.auth.hashers import make_password

        username = username or f"u{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO auth_user (username, email, password, is_staff, is_superuser, "
                "is_active, first_name, last_name, date_joined) "
                "VALUES (%s, %s, %s, %s, %s, true, '', '', now())",
                (
                    username,
                    f"{username}@example.com",
                    make_password(PASSWORD),
                    staff or superuser,
                    superuser,
                ),
            )
            if staff:  # like tests.factories.make_user: staff are in both role groups
                conn.execute(
                    "INSERT INTO auth_user_groups (user_id, group_id) SELECT u.id, g.id "
                    "FROM auth_user u, auth_group g WHERE u.username = %s AND g.name IN "
                    "('Claims exporters', 'Reminder senders')", (username,),
                )
        return username

    def job(self, job_id: str) -> dict:
        with psycopg.connect(self.url, row_factory=psycopg.rows.dict_row) as conn:
            row = conn.execute("SELECT * FROM jobs_job WHERE id = %s", (job_id,)).fetchone()
        assert row is not None, job_id
        return row

    def scalar(self, sql: str, *params: object) -> object:
        with psycopg.connect(self.url) as conn:
            return conn.execute(sql, params).fetchone()[0]


@pytest.fixture(scope="module")
def fleet_db(postgres_server, request) -> Iterator[FleetDB]:
    server, base_url = postgres_server
    name = f"rt_{request.module.__name__.rsplit('.', 1)[-1]}_{uuid.uuid4().hex[:6]}".lower()
    url = server.create_database(base_url, name)
    run_manage({"DATABASE_URL": url}, "migrate", "--noinput", "-v0")
    yield FleetDB(url)
    server.drop_database(base_url, name)


@pytest.fixture(scope="module")
def fleet_media(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fleet-media")


class Pair(NamedTuple):
    a: Daphne
    b: Daphne
    user: str
    on_a: LiveClient
    on_b: LiveClient
    ws: Socket


class Fleet:
    """Start daphne servers that share one database, one Redis and one media folder."""

    def __init__(
        self,
        *,
        db: FleetDB,
        redis_url: str,
        media: Path,
        log_dir: Path,
        var_dir: Path,
        extra: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.env = {
            "DATABASE_URL": db.url,
            "REDIS_URL": redis_url,
            "CHANNEL_LAYER_PREFIX": f"rt-{uuid.uuid4().hex[:8]}",
            "MEDIA_ROOT": str(media),
            "DJANGO_VAR_DIR": str(var_dir),
            "JOBS_HEARTBEAT_INTERVAL": str(HEARTBEAT),
            "JOBS_STALE_AFTER": str(STALE_AFTER),
            "DJANGO_SECRET_KEY": "fleet-test-secret-shared-by-every-server",
            **(extra or {}),
        }
        self.log_dir = log_dir
        self.servers: list[Daphne] = []

    def start(self, name: str, **env: str) -> Daphne:
        server = Daphne(env={**self.env, **env}, log_dir=self.log_dir, name=f"fleet-{name}")
        self.servers.append(server.start())
        return server

    def client(self, server: Daphne, username: str) -> LiveClient:
        return LiveClient(server.url).login(username, PASSWORD)

    def pair(self) -> Pair:
        """Servers a and b, one staff user logged in on both, a socket on b past its snapshot."""
        a, b = self.start("a"), self.start("b")
        user = self.db.make_user()
        on_a, on_b = self.client(a, user), self.client(b, user)
        ws = on_b.websocket()
        assert ws.recv()["type"] == "jobs.snapshot"
        return Pair(a, b, user, on_a, on_b, ws)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()


@pytest.fixture
def fleet_factory(fleet_db, fleet_media, output_dir, tmp_path):
    fleets: list[Fleet] = []

    def make(redis_url: str, **extra: str) -> Fleet:
        fleet = Fleet(
            db=fleet_db,
            redis_url=redis_url,
            media=fleet_media,
            log_dir=output_dir,
            var_dir=tmp_path,
            extra=extra,
        )
        fleets.append(fleet)
        return fleet

    yield make
    for fleet in fleets:
        fleet.stop()
