"""The export job kind as the shared job machinery sees it: run, end, retry, shell, chores."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings

from exports.describe import params_text
from exports.jobs import KIND, cleanup_export, run_export
from exports.permissions import export_refusal, job_permitted, may_export
from exports.registry import EXPORT_TYPES
from exports.services import ExportInvalid, export_retry, export_start, exports_cleanup
from exports.writers import FORMATS
from jobs.kinds import CommandLine, JobKind, StartRefused
from jobs.models import Job, JobStatus


def export_ended(job: Job, notes: dict[str, Any]) -> None:
    """Any ending but success leaves no temporary or stored file behind."""
    if job.status != JobStatus.SUCCEEDED:
        cleanup_export(job)


def _arguments(parser: ArgumentParser) -> None:
    parser.add_argument("claim_type", nargs="?", default="", help="the claim type to export")
    parser.add_argument("--format", dest="fmt", default="xlsx", choices=list(FORMATS),
                        help="xlsx (default) or csv")
    parser.add_argument("--filter", action="append", default=[], metavar="LOOKUP=VALUE",
                        help="export filter, e.g. status=open or created_at__gte=2025-01-01")


def _filters(pairs: list[str]) -> dict[str, str] | None:
    filters = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise StartRefused(f"--filter {pair!r}: use LOOKUP=VALUE.")
        filters[key.strip()] = value
    return filters or None


def _start(owner: Any, options: dict[str, Any]) -> Job:
    entry = EXPORT_TYPES.get(options["claim_type"])
    if entry is not None and not may_export(owner, entry):
        raise StartRefused(f"{owner.get_username()}: {export_refusal(entry)}")
    try:
        return export_start(owner_id=owner.pk, claim_type=options["claim_type"],
                            fmt=options["fmt"], filters=_filters(options["filter"]))
    except ExportInvalid as exc:
        choices = exc.extra.get("choices")
        hint = f" Choices: {', '.join(map(str, choices))}." if choices else ""
        raise StartRefused(f"{exc}{hint}") from None


EXPORT = JobKind(
    name=KIND,
    run=run_export,
    on_end=export_ended,
    resume=export_retry,
    command=CommandLine(help="export one claim type to xlsx or csv", add_arguments=_arguments,
                        start=_start),
    # Every server sweeps expired and orphaned export files (storage is shared).
    periodic=((exports_cleanup, settings.EXPORT_CLEANUP_INTERVAL),),
    permitted=job_permitted,
    describe=params_text,
    # The dashboard's button for an ended export is "Retry" (static/js/dashboard.js).
    resume_hint="retry it from the dashboard: its Retry button runs the same export again "
                "from the start",
)
