"""Run exports on a real PostgreSQL, in a process of its own: `python -m tests.exports.pg_probe
SCENARIO` with DATABASE_URL set (the test process itself runs on SQLite). Prints one JSON line.

While the job runs, its own thread looks at pg_stat_activity: the reader thread's backend is the
other one of this database, inside a transaction, its last statement a FETCH of the server-side
cursor. Scenarios: `export` (xlsx and CSV, read back), `cancel` (after the first chunk), `kill`
(the reader's backend terminated mid-export).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

CHUNK = 100
ROWS = 1_050  # 11 chunks, the last one short


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "realtime_site.settings")
    os.environ["EXPORT_CHUNK_SIZE"] = str(CHUNK)
    os.environ["EXPORT_WIDTH_SAMPLE"] = str(CHUNK)  # or the widths read 2,000 rows up front
    import django

    django.setup()


def _reader_backends() -> list[dict]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            " AND query LIKE 'FETCH%%'")
        return [{"pid": pid, "state": state, "query": query}
                for pid, state, query in cursor.fetchall()]


def _export_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("export-")]


def _reporter(scenario: str, seen: dict):
    from jobs.progress import Reporter
    from jobs.services import job_cancel

    class Watching(Reporter):
        """After each chunk: what the database shows of the reader; then the scenario's act."""

        def __init__(self, job):
            super().__init__(job, interval=0)  # every cancel check reads the flag

        def advance(self, n=1, message=None):
            super().advance(n, message)
            backends = _reader_backends()
            seen.setdefault("readers", []).append(backends)
            seen.setdefault("threads", []).append(_export_threads())
            if self.done == n and scenario == "cancel":
                job_cancel(job_id=self.job_id)
            if self.done == n and scenario == "kill" and backends:
                from django.db import connection

                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_terminate_backend(%s)", [backends[0]["pid"]])

    return Watching


def _rows_in(path: Path, fmt: str) -> list[tuple]:
    if fmt == "csv":
        import csv

        with open(path, encoding="utf-8-sig", newline="") as handle:
            return [tuple(r) for r in csv.reader(handle)][1:]
    import openpyxl

    ws = openpyxl.load_workbook(path, read_only=True).active
    return list(ws.iter_rows(min_row=2, values_only=True))


def main(scenario: str) -> dict:
    _setup()
    from django.contrib.auth import get_user_model
    from django.core.files.storage import default_storage

    from exports.models import AccidentClaim
    from tests.exports.factories import export_now, make_accidents

    if not AccidentClaim.objects.exists():
        make_accidents(ROWS)
    user = get_user_model().objects.create_superuser(
        f"probe-{scenario}-{os.getpid()}", "probe@example.com", "x")
    out: dict = {"scenario": scenario}
    for fmt in ("xlsx", "csv") if scenario == "export" else ("xlsx",):
        seen: dict = {}
        job = export_now(owner_id=user.pk, claim_type="accident", fmt=fmt,
                         reporter_factory=_reporter(scenario, seen))
        result = {"status": job.status, "error": job.error, "done": job.done,
                  "readers": seen.get("readers", []), "threads": seen.get("threads", []),
                  "threads_after": _export_threads(), "readers_after": _reader_backends(),
                  "stored": default_storage.exists(f"exports/{job.pk}")}
        if job.status == "succeeded":
            rows = _rows_in(Path(default_storage.path(job.result_file)), fmt)
            numbers = list(AccidentClaim.objects.order_by("pk").values_list("number", flat=True))
            result.update(rows=len(rows), numbers_match=[r[0] for r in rows] == numbers)
        out[fmt] = result
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1]), default=str))
