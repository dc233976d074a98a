"""Benchmark: the cost of jobs/watch.py, the once-a-second look at other processes' changes.

    .venv/bin/python bench/watch.py --jobs 100000 --changed 0,5,50
    .venv/bin/python bench/watch.py --jobs 100000 --changed 0,5,50 --no-index

A private SQLite file (the embedded default) with `--jobs` job rows of one owner, then for
each `--changed` count: that many rows are changed (as another process would: version + 1,
`updated_at` now) before every look, and `--looks` looks of a real Watcher are timed (the
query and, for each changed row, the snapshot and the push to the in-process layer). Prints
the query plan (it must use the `updated_at` index) and a table of milliseconds per look.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--changed", default="0,5,50")
    parser.add_argument("--looks", type=int, default=200)
    parser.add_argument("--no-index", action="store_true",
                        help="drop the updated_at index first (what it saves)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="rt-bench-watch-"))
    os.environ.update(DJANGO_SETTINGS_MODULE="realtime_site.settings",
                      DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
                      DJANGO_VAR_DIR=str(workdir / "var"))
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from jobs.models import Job
    from jobs.watch import Watcher

    call_command("migrate", verbosity=0)
    owner = get_user_model().objects.create_user("bench-watch", is_staff=True)
    old = timezone.now() - timezone.timedelta(days=30)
    Job.objects.bulk_create([Job(kind="demo", owner=owner, title=f"Demo {i}", status="succeeded")
                             for i in range(args.jobs)], batch_size=5000)
    Job.objects.update(updated_at=old)  # history: changed long ago
    ids = list(Job.objects.values_list("pk", flat=True)[:max(int(c) for c in
                                                            args.changed.split(","))])
    watcher = Watcher()
    watcher.tick()
    with connection.cursor() as cursor:
        if args.no_index:
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                           "tbl_name = 'jobs_job' AND sql LIKE '%updated_at%'")
            for (name,) in cursor.fetchall():
                cursor.execute(f'DROP INDEX "{name}"')
        sql, params = (Job.objects.filter(updated_at__gte=timezone.now())
                       .order_by("updated_at", "pk")[:500].query.sql_with_params())
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        plan = " / ".join(row[-1] for row in cursor.fetchall())
    print(f"{args.jobs:,} job rows; query plan: {plan}\n")
    print("| rows changed per look | looks | median ms | p99 ms | rows pushed per look |")
    print("|---|---|---|---|---|")
    for changed in (int(c) for c in args.changed.split(",")):
        times, pushed = [], 0
        for _ in range(args.looks):
            if changed:
                Job.objects.filter(pk__in=ids[:changed]).update(
                    version=F("version") + 1, updated_at=timezone.now())
            started = time.perf_counter()
            pushed += watcher.tick()
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"| {changed} | {args.looks} | {statistics.median(times):.2f} | {p99:.2f} | "
              f"{pushed / args.looks:.1f} |")


if __name__ == "__main__":
    main()
