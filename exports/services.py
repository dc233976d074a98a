"""Writes for exports: start one, retry one, clean up old files."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.files.storage import default_storage
from django.utils import timezone

from exports.describe import filters_subtitle
from exports.filters import FilterError, filters_clean
from exports.jobs import KIND, STORAGE_DIR, delete_stored, temp_dir
from exports.registry import EXPORT_TYPES
from exports.writers import FORMATS
from jobs.models import Job, JobStatus
from jobs.services import JobNotResumable, job_start

logger = logging.getLogger(__name__)


class ExportInvalid(ValueError):
    """Bad input for an export; `extra` goes into the 400 answer (e.g. the valid choices)."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.extra = extra


def export_params(*, claim_type: Any, fmt: Any = "xlsx", filters: Any = None) -> dict[str, Any]:
    """Validate the inputs of an export; return the job params (raise ExportInvalid)."""
    if not isinstance(claim_type, str) or claim_type not in EXPORT_TYPES:
        what = "Missing" if claim_type in (None, "") else "Unknown"
        raise ExportInvalid(f"{what} claim type; use one of the choices.",
                            choices=sorted(EXPORT_TYPES))
    fmt = fmt or "xlsx"
    if fmt not in FORMATS:
        raise ExportInvalid(f"Unknown format {fmt!r}.", choices=list(FORMATS))
    entry = EXPORT_TYPES[claim_type]
    try:
        clean = filters_clean(entry, filters)
    except FilterError as exc:
        raise ExportInvalid(str(exc), allowed_filters=list(entry.filters)) from None
    params = {"claim_type": claim_type, "format": fmt, "filters": clean}
    if clean:
        # The filters in words, for the job's card (JOB's `subtitle`, jobs/snapshot.py):
        # made once here, where the registry is known (jobs/ imports nothing of exports/).
        params["subtitle"] = filters_subtitle(entry, clean)
    return params


def _title(params: dict[str, Any]) -> str:
    label = EXPORT_TYPES[params["claim_type"]].label
    suffix = " (CSV)" if params["format"] == "csv" else ""
    filtered = ", filtered" if params.get("filters") else ""
    return f"{label} export{suffix}{filtered}"


def export_start(*, owner_id: int, claim_type: str, fmt: str = "xlsx",
                 filters: dict[str, Any] | None = None, resumed_from_id: Any = None) -> Job:
    """Queue an export job (runs in this server's pool after the transaction commits)."""
    params = export_params(claim_type=claim_type, fmt=fmt, filters=filters)
    return job_start(kind=KIND, owner_id=owner_id, title=_title(params), params=params,
                     resumed_from_id=resumed_from_id)


def export_retry(old: Job, user_id: int) -> Job:
    """The resume hook of export jobs: the same export again, as a new job."""
    params = old.params or {}
    try:
        return export_start(owner_id=user_id, claim_type=params.get("claim_type"),
                            fmt=params.get("format", "xlsx"), filters=params.get("filters"),
                            resumed_from_id=old.pk)
    except ExportInvalid as exc:  # e.g. a claim type removed since: 409, not 500
        raise JobNotResumable(f"This export cannot run again: {exc}") from None


def exports_cleanup(*, now: datetime | None = None, temp_grace: float = 3600.0
                    ) -> dict[str, int]:
    """Delete expired export files, stored files without a live job, and orphaned temp files."""
    now = now or timezone.now()
    counts = {"expired": 0, "orphaned": 0, "temp": 0}
    expired = Job.objects.of_kind(KIND).filter(expires_at__lte=now).exclude(result_file="")
    for job in expired.exclude(result__has_key="file_deleted").only("pk", "result"):
        counts["expired"] += delete_stored(job.pk)
        Job.objects.transition(job.pk, result={**(job.result or {}), "file_deleted": True})
    counts["orphaned"] = _delete_orphaned_storage()
    counts["temp"] = _delete_orphaned_temp(temp_grace)
    if any(counts.values()):
        logger.info("exports cleanup: %s", counts)
    return counts


def _delete_orphaned_storage() -> int:
    """Folders exports/<id>/ whose job is gone or failed (a crash between save and finish)."""
    try:
        folders, _files = default_storage.listdir(STORAGE_DIR)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    wanted = Job.objects.of_kind(KIND).filter(pk__in=_uuids(folders))
    keep = set(
        str(pk) for pk in (wanted.active() | wanted.filter(status=JobStatus.SUCCEEDED))
        .values_list("pk", flat=True)
    )
    return sum(delete_stored(folder) for folder in folders if folder not in keep)


def _delete_orphaned_temp(grace: float) -> int:
    """Temp files of jobs that are no longer active (a killed process leaves them behind)."""
    paths = list(temp_dir().glob("*.part"))
    active = set(
        str(pk) for pk in Job.objects.active().filter(
            pk__in=_uuids(p.name.split(".", 1)[0] for p in paths)
        ).values_list("pk", flat=True)
    )
    removed = 0
    cutoff = time.time() - grace
    for path in paths:
        job_id = path.name.split(".", 1)[0]
        if job_id in active:
            continue
        # A name that is no job id of ours: only remove it once it is old.
        if not _uuids([job_id]) and _mtime(path) > cutoff:
            continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _uuids(names: Any) -> list[str]:
    import uuid

    out = []
    for name in names:
        try:
            out.append(str(uuid.UUID(str(name))))
        except ValueError:
            continue
    return out
