"""Run an export or a campaign in the foreground, with a terminal progress bar (cron, debugging).

    python manage.py run_job export accident --format csv --user admin
    python manage.py run_job export theft --filter status=open --output theft.xlsx --user admin
    python manage.py run_job campaign terms --user admin
    python manage.py run_job demo --steps 20 --user admin

The job is a real Job row owned by --user: the admin's dashboard shows it live (through Redis
when REDIS_URL is set). Exit status: 0 succeeded, 1 failed / cancelled / interrupted, 2 bad
input, 130 stopped with Ctrl-C (the job is marked interrupted and can be resumed).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from django.contrib.auth import get_user_model
from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError, CommandParser

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.progress import Reporter
from jobs.snapshot import job_snapshot

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
        counts = f"{snap['done']:,}/{total:,}" if total is not None else f"{snap['done']:,}/?"
        failed = f" failed {snap['failed']:,}" if snap["failed"] else ""
        rate = f" {snap['rate']:,.0f}/s" if snap.get("rate") else ""
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
    help = "Run an export or a reminder campaign in the foreground, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=["export", "campaign", "demo"])
        parser.add_argument("target", nargs="?", default="",
                            help="claim type (export) or agreement id/slug (campaign)")
        parser.add_argument("--user", required=True,
                            help="username who owns the job (sees it on the dashboard)")
        parser.add_argument("--format", dest="fmt", default="xlsx", help="xlsx (default) or csv")
        parser.add_argument("--filter", action="append", default=[], metavar="LOOKUP=VALUE",
                            help="export filter, e.g. status=open or created_at__gte=2025-01-01")
        parser.add_argument("--output", type=Path,
                            help="copy the exported file here when the export succeeds")
        parser.add_argument("--steps", type=int, default=20, help="demo only")
        parser.add_argument("--delay", type=float, default=0.05, help="demo only")
        parser.add_argument("--plain", action="store_true",
                            help="plain progress lines even on a terminal")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = self._owner(options["user"])
        line = ProgressLine(self.stdout._out, tty=False if options["plain"] else None)
        job = self._create(owner.pk, options)
        self.stdout.write(f"{job.title} (job {job.pk}, owner {owner.get_username()})")
        status = self._run(job, line)
        job.refresh_from_db()
        snap = job_snapshot(job)
        line.draw(snap, final=True)
        self._report(job, snap, options)
        if status == JobStatus.SUCCEEDED:
            return
        sys.exit(EXIT_FAILED)

    # --- steps ------------------------------------------------------------------------------
    def _owner(self, username: str) -> Any:
        model = get_user_model()
        user = model.objects.filter(**{model.USERNAME_FIELD: username}).first()
        if user is None:
            raise CommandError(f"No user {username!r}.", returncode=EXIT_USAGE)
        if not (user.is_active and user.is_staff):
            raise CommandError(f"{username!r} is not an active staff member.",
                               returncode=EXIT_USAGE)
        return user

    def _create(self, owner_id: int, options: dict[str, Any]) -> Job:
        """Create the job row through the kind's own service, held back from the pool."""
        from jobs.services import jobs_held

        with jobs_held() as held:
            self._start(owner_id, options)
        if len(held) != 1:
            raise CommandError(f"Expected one job, got {len(held)}.")
        return held[0]

    def _start(self, owner_id: int, options: dict[str, Any]) -> Job:
        kind, target = options["kind"], options["target"]
        if kind == "export":
            from exports.services import ExportInvalid, export_start

            try:
                return export_start(owner_id=owner_id, claim_type=target, fmt=options["fmt"],
                                    filters=self._filters(options["filter"]))
            except ExportInvalid as exc:
                choices = exc.extra.get("choices")
                hint = f" Choices: {', '.join(map(str, choices))}." if choices else ""
                raise CommandError(f"{exc}{hint}", returncode=EXIT_USAGE) from None
        if kind == "campaign":
            from campaigns.selectors import agreement_resolve
            from campaigns.services import CampaignAlreadyRunning, campaign_start

            agreement = agreement_resolve(target)
            if agreement is None:
                raise CommandError(f"No agreement {target!r} (give its id or slug).",
                                   returncode=EXIT_USAGE)
            try:
                return campaign_start(owner_id=owner_id, agreement_id=agreement.pk)
            except CampaignAlreadyRunning as exc:
                raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        from jobs.demo import demo_start

        try:
            return demo_start(owner_id=owner_id, steps=options["steps"], delay=options["delay"])
        except ValueError as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None

    @staticmethod
    def _filters(pairs: list[str]) -> dict[str, str] | None:
        filters = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise CommandError(f"--filter {pair!r}: use LOOKUP=VALUE.", returncode=EXIT_USAGE)
            filters[key.strip()] = value
        return filters or None

    def _run(self, job: Job, line: ProgressLine) -> str | None:
        """runner.execute in this thread; Ctrl-C marks the job interrupted (resumable)."""
        from jobs.monitor import monitor
        from jobs.runner import execute
        from jobs.services import job_interrupt

        monitor.ensure_started()  # heartbeats: no server may take this job for a dead one
        try:
            return execute(str(job.pk), reporter_factory=terminal_reporter(line))
        except KeyboardInterrupt:
            line.end()
            job_interrupt(job_id=job.pk, reason="Stopped from the terminal (Ctrl-C).")
            kinds.get(job.kind).clean_up(job)
            self.stderr.write("Interrupted; the job can be resumed from the dashboard.")
            sys.exit(EXIT_INTERRUPTED)

    def _report(self, job: Job, snap: dict, options: dict[str, Any]) -> None:
        elapsed = (job.finished_at - job.started_at).total_seconds() \
            if job.finished_at and job.started_at else None
        if job.status != JobStatus.SUCCEEDED:
            self.stderr.write(f"{job.status}: {job.error or job.message}")
            return
        summary = f"{job.status}: {job.done:,} done, {job.failed:,} failed"
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
