"""Run a job in the foreground, with a terminal progress bar (cron, debugging).

    python manage.py run_job export accident --format csv --user admin
    python manage.py run_job export theft --filter status=open --output theft.xlsx --user admin
    python manage.py run_job campaign terms --user admin
    python manage.py run_job demo --steps 20 --user admin

Each job kind with a command line (JobKind.command) is a subcommand with its own arguments:
`run_job KIND --help`. The job is a real Job row owned by --user: the admin's dashboard shows
it live (through Redis when REDIS_URL is set; on the embedded default the server reads the
changed row within about a second: jobs/watch.py). Exit status: 0 succeeded, 1 failed /
cancelled / interrupted, 2 bad input, 130 stopped with Ctrl-C (the job is marked
interrupted; the last line says what can be done next, per kind: JobKind.next_step).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from argparse import ArgumentParser
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import kinds
from jobs.kinds import StartRefused
from jobs.models import Job, JobStatus
from jobs.numbers import fmt_number
from jobs.process import run_foreground
from jobs.progress import Reporter
from jobs.snapshot import job_snapshot
from realtime_site.api import ApiError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def _fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = max(0, round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressLine:
    """Draws a job snapshot: one redrawn line on a TTY, plain throttled lines otherwise."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None, every: float = 2.0) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.every = every
        self._last_plain = 0.0
        self._last_status: str | None = None
        self._drawn = False

    def text(self, snap: dict, width: int = 100) -> str:
        processed = snap["done"] + snap["failed"]
        total = snap["total"]
        done, of = fmt_number(snap["done"]), fmt_number(total) if total is not None else "?"
        counts = f"{done}/{of}"
        failed = f" failed {fmt_number(snap['failed'])}" if snap["failed"] else ""
        rate = f" {fmt_number(round(snap['rate']))}/s" if snap.get("rate") else ""
        eta = f" ETA {_fmt_duration(snap['eta_seconds'])}" if snap["status"] == "running" \
            and snap.get("eta_seconds") is not None else ""
        tail = f" {counts}{failed}{rate}{eta} {snap['status']}"
        percent = snap["percent"] if snap["percent"] is not None else 0.0
        if not self.tty:
            return f"{snap['title']}: {percent:5.1f}%{tail}"
        bar_width = max(10, min(40, width - len(tail) - 10))
        filled = int(bar_width * min(processed, total or 0) / total) if total else 0
        bar = "█" * filled + "░" * (bar_width - filled)
        return f"[{bar}] {percent:5.1f}%{tail}"

    def draw(self, snap: dict, *, final: bool = False) -> None:
        status_changed = snap["status"] != self._last_status
        self._last_status = snap["status"]
        if self.tty:
            width = shutil.get_terminal_size((100, 20)).columns
            line = self.text(snap, width)[: width - 1]
            self.stream.write("\r\x1b[2K" + line + ("\n" if final else ""))
            self._drawn = not final
        else:
            now = time.monotonic()
            if not (final or status_changed or now - self._last_plain >= self.every):
                return
            self._last_plain = now
            self.stream.write(self.text(snap) + "\n")
        self.stream.flush()

    def end(self) -> None:
        """Leave the redrawn line before anything else is printed."""
        if self.tty and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def terminal_reporter(line: ProgressLine) -> Callable[[Job], Reporter]:
    """A Reporter factory whose every flush (the same throttled snapshots the browser gets)
    is also drawn on the terminal."""

    class TerminalReporter(Reporter):
        def flush(self) -> dict | None:
            snap = super().flush()
            if snap is not None:
                line.draw(snap)
            return snap

    return TerminalReporter


class Command(BaseCommand):
    help = "Run a job (an export, a reminder campaign...) in the foreground, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        common = ArgumentParser(add_help=False)
        common.add_argument("--user", required=True,
                            help="username who owns the job (sees it on the dashboard)")
        common.add_argument("--output", type=Path,
                            help="copy the job's file here when it succeeds")
        common.add_argument("--plain", action="store_true",
                            help="plain progress lines even on a terminal")
        sub = parser.add_subparsers(dest="kind", required=True, metavar="KIND")
        for kind in kinds.every():
            if kind.command is not None:
                kind.command.add_arguments(
                    sub.add_parser(kind.name, help=kind.command.help, parents=[common])
                )

    def handle(self, *args: Any, **options: Any) -> None:
        kind = kinds.get(options["kind"])
        assert kind.command is not None  # only kinds with a command line have a subcommand
        owner = self._owner(options["user"])
        line = ProgressLine(self.stdout._out, tty=False if options["plain"] else None)

        def create() -> Job:
            try:
                return kind.command.start(owner, options)
            except (StartRefused, ApiError) as exc:  # ApiError: e.g. too many active jobs
                raise CommandError(str(exc), returncode=EXIT_USAGE) from None

        started: list[Job] = []

        def created(job: Job) -> None:
            started.append(job)
            self.stdout.write(f"{job.title} (job {job.pk}, owner {owner.get_username()})")

        try:
            job = run_foreground(create=create, on_created=created,
                                 reporter_factory=terminal_reporter(line))
        except KeyboardInterrupt:
            line.end()
            resumable, counts = False, ""
            if started:
                job = started[0]
                job.refresh_from_db(fields=["resumable", "done", "failed", "total"])
                resumable = job.resumable
                # The row's counts: the same the dashboard, the API and any summary show.
                of = f" of {fmt_number(job.total)}" if job.total is not None else ""
                counts = (f" after {fmt_number(job.done)} done, {fmt_number(job.failed)} "
                          f"failed{of}")
            # Per kind, what the dashboard really offers: Resume (campaigns), Retry
            # (exports), nothing (demo jobs).
            self.stderr.write(f"Interrupted{counts}; {kind.next_step(resumable)}.")
            sys.exit(EXIT_INTERRUPTED)
        snap = job_snapshot(job)
        line.draw(snap, final=True)
        self._report(job, snap, options)
        if job.status == JobStatus.SUCCEEDED:
            return
        sys.exit(EXIT_FAILED)

    def _owner(self, username: str) -> Any:
        model = get_user_model()
        user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user {username!r}.", returncode=EXIT_USAGE)
        if not (user.is_active and user.is_staff):
            raise CommandError(f"{username!r} is not an active staff member.",
                               returncode=EXIT_USAGE)
        return user

    def _report(self, job: Job, snap: dict, options: dict[str, Any]) -> None:
        elapsed = (job.finished_at - job.started_at).total_seconds() \
            if job.finished_at and job.started_at else None
        if job.status != JobStatus.SUCCEEDED:
            self.stderr.write(f"{job.status}: {job.error or job.message}")
            return
        summary = f"{job.status}: {fmt_number(job.done)} done, {fmt_number(job.failed)} failed"
        self.stdout.write(f"{summary} in {_fmt_duration(elapsed)}. {job.message}")
        if job.result_file:
            where = job.result_file
            with contextlib.suppress(NotImplementedError):  # object storage: no local path
                where = default_storage.path(job.result_file)
            self.stdout.write(f"File: {where} (expires {snap['expires_at']})")
            if options["output"]:
                with default_storage.open(job.result_file, "rb") as src, \
                        options["output"].open("wb") as dst:
                    shutil.copyfileobj(src, dst, 256 * 1024)
                self.stdout.write(f"Copied to {options['output']}")
