"""The export on a real PostgreSQL: one server-side cursor in a reader thread, cancel, failure.

Each scenario runs tests/exports/pg_probe.py in a process of its own against a fresh database of
the `postgres_server` fixture (a private server, or DATABASE_URL's), since this process runs on
SQLite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from tests.services import ROOT


@pytest.fixture(scope="module")
def pg_url(postgres_server):
    server, base_url = postgres_server
    name = f"rt_exports_{uuid.uuid4().hex[:8]}"
    url = server.create_database(base_url, name)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "realtime_site.settings"}
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT,
                   env=env, check=True, timeout=120)
    yield url
    server.drop_database(base_url, name)


def probe(url: str, scenario: str, tmp_path) -> dict:
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
           "MEDIA_ROOT": str(tmp_path / "media"), "DJANGO_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_LOG_LEVEL": "ERROR",
           "DJANGO_PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher"}
    done = subprocess.run([sys.executable, "-m", "tests.exports.pg_probe", scenario], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_reads_through_one_server_side_cursor_in_a_reader_thread(pg_url, tmp_path):
    out = probe(pg_url, "export", tmp_path)
    for fmt in ("xlsx", "csv"):
        run = out[fmt]
        assert run["status"] == "succeeded", run["error"]
        assert run["done"] == run["rows"] == 1050 and run["numbers_match"]
        # While the job ran: one other backend of this database, in a transaction, fetching
        # 100 rows at a time from one cursor (a keyset page would be a SELECT).
        fetching = [r for chunk in run["readers"] for r in chunk]
        assert fetching, run["readers"]
        assert {r["pid"] for r in fetching} == {fetching[0]["pid"]}
        assert all(r["query"].startswith("FETCH FORWARD 100 FROM") for r in fetching)
        assert {r["state"] for r in fetching} <= {"idle in transaction", "active"}
        assert all("export-read-" in " ".join(names) for names in run["threads"][:5])
        # Afterwards: no thread left, the cursor and its transaction closed.
        assert run["threads_after"] == [] and run["readers_after"] == []


def test_cancel_stops_the_reader_and_closes_its_cursor(pg_url, tmp_path):
    run = probe(pg_url, "cancel", tmp_path)["xlsx"]
    assert run["status"] == "cancelled" and 0 < run["done"] < 1050
    assert run["threads_after"] == [] and run["readers_after"] == []
    assert not run["stored"]


def test_a_reader_whose_connection_dies_fails_the_job_and_leaves_no_thread(pg_url, tmp_path):
    run = probe(pg_url, "kill", tmp_path)["xlsx"]
    assert run["status"] == "failed"
    assert run["error"].startswith("OperationalError: terminating connection"), run["error"]
    assert run["threads_after"] == [] and run["readers_after"] == []
    assert not run["stored"]
