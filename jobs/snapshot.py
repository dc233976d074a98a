"""The JSON snapshot of a job: the JOB object of docs/contract.md."""

from __future__ import annotations

from datetime import UTC, datetime

from django.urls import reverse
from django.utils import timezone as dj_timezone

from jobs.models import Job, JobStatus

# Endings a job can be resumed or retried from (jobs.kinds.RESUMABLE_STATUSES): only these
# can have a `resumed_by`, so only these pay its query.
_RESUMED_ENDINGS = frozenset({JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED})


def iso(value: datetime | None) -> str | None:
    """UTC ISO 8601 with a Z, or None."""
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_snapshot(job: Job, *, now: datetime | None = None) -> dict:
    """Return the contract's JOB object for one job."""
    now = now or dj_timezone.now()
    processed = job.done + job.failed
    percent = None
    if job.total:
        percent = round(min(100.0, 100.0 * processed / job.total), 1)
    elif job.status == JobStatus.SUCCEEDED:
        percent = 100.0
    rate = None
    eta = None
    if job.started_at and processed:
        end = job.finished_at or now
        elapsed = (end - job.started_at).total_seconds()
        if elapsed > 0:
            rate = round(processed / elapsed, 1)
            if job.total is not None and job.status == JobStatus.RUNNING and rate > 0:
                eta = round(max(0, job.total - processed) / rate, 1)
    if job.status == JobStatus.SUCCEEDED:
        eta = 0.0
    queue_position = None
    if job.status == JobStatus.QUEUED:
        queue_position = 1 + Job.objects.queued().of_worker(job.worker_id).filter(
            created_at__lt=job.created_at
        ).count()
    download_url = None
    if job.status == JobStatus.SUCCEEDED and job.result_file:
        download_url = reverse("jobs:download", args=[job.id])
    snapshot = {
        "id": str(job.id),
        "kind": job.kind,
        "title": job.title,
        # Extension: a readable line under the title the kind wrote at start (an export's
        # filters in words), or None. Read from params: jobs/ imports no kind's code.
        "subtitle": (job.params.get("subtitle") or None) if isinstance(job.params, dict)
        else None,
        "status": job.status,
        "total": job.total,
        "done": job.done,
        "failed": job.failed,
        "percent": percent,
        "rate": rate,
        "eta_seconds": eta,
        "version": job.version,
        "message": job.message,
        "error": job.error or None,
        "download_url": download_url,
        "expires_at": iso(job.expires_at) if download_url else None,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        # Extensions to the contract (allowed: new fields only).
        "queue_position": queue_position,
        "resumable": job.resumable and job.is_terminal,
        "resumed_from": str(job.resumed_from_id) if job.resumed_from_id else None,
        "resumed_by": _resumed_by(job),
        "file_size": _file_size(job) if download_url else None,
    }
    return snapshot


def _resumed_by(job: Job) -> str | None:
    """The newest job of the same owner that continues this one (the reverse of
    `resumed_from`). Lists annotate it in one query (jobs.selectors.with_resumed_by); a single
    job asks here, only when it could have been resumed at all."""
    if hasattr(job, "resumed_by_pk"):
        found = job.resumed_by_pk
    elif job.status in _RESUMED_ENDINGS and not job.resumable:
        found = (Job.objects.filter(resumed_from_id=job.pk, owner_id=job.owner_id)
                 .order_by("-created_at").values_list("pk", flat=True).first())
    else:
        found = None
    return str(found) if found else None


def _file_size(job: Job) -> int | None:
    """The file's size in bytes as the job recorded it when it saved the file (an export's
    result `bytes`): no storage call per snapshot (object storage would make it a request).
    None when the kind did not record it."""
    size = (job.result or {}).get("bytes") if isinstance(job.result, dict) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size >= 0 else None
