"""Writes on jobs: create and start, cancel, interrupt."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from jobs import kinds
from jobs.models import ACTIVE_STATUSES, Job, JobStatus
from jobs.progress import publish
from jobs.runner import WORKER_ID, runner
from jobs.snapshot import job_is_resumable

logger = logging.getLogger(__name__)


class JobAlreadyFinished(Exception):
    """The job is in a terminal state; nothing can change it."""


class ServerShuttingDown(Exception):
    """This server stopped taking jobs (SIGTERM); another server, or a retry, will."""


class JobNotResumable(Exception):
    """The job cannot be resumed (still active, succeeded, already resumed, or kind has no hook)."""


def job_start(
    *, kind: str, owner_id: int, title: str, params: dict[str, Any] | None = None,
    total: int | None = None, resumed_from_id: Any = None,
) -> Job:
    """Create a queued job and hand it to this server's pool once the transaction commits."""
    if not runner.accepting:
        raise ServerShuttingDown("This server is shutting down; try again in a few seconds.")
    now = timezone.now()
    job = Job.objects.create(
        kind=kind,
        owner_id=owner_id,
        title=title[:200],
        params=params or {},
        total=total,
        worker_id=WORKER_ID,
        heartbeat_at=now,
        message="Queued",
        resumed_from_id=resumed_from_id,
    )
    held = getattr(_foreground, "jobs", None)
    if held is not None:
        held.append(job)
        transaction.on_commit(lambda: publish(job))
    else:
        transaction.on_commit(lambda: _submit(job))
    return job


_foreground = threading.local()


@contextmanager
def jobs_held() -> Iterator[list[Job]]:
    """Inside the block, job_start creates rows without handing them to the pool: the caller
    runs them itself (`manage.py run_job` runs a job in the foreground with runner.execute)."""
    previous = getattr(_foreground, "jobs", None)
    _foreground.jobs = held = []
    try:
        yield held
    finally:
        _foreground.jobs = previous


def _submit(job: Job) -> None:
    publish(job)
    if runner.submit(job.pk) is None:
        job_interrupt(job_id=job.pk, reason="The server was shutting down; start the job again.")


def job_cancel(*, job_id: Any) -> Job:
    """Ask a job to stop: a queued job is cancelled at once, a running one at its next check."""
    now = timezone.now()
    cancelled = Job.objects.filter(pk=job_id, status=JobStatus.QUEUED).update(
        status=JobStatus.CANCELLED, cancel_requested=True, finished_at=now,
        message="Cancelled", version=F("version") + 1, updated_at=now,
    )
    if not cancelled:
        asked = Job.objects.filter(
            pk=job_id, status=JobStatus.RUNNING, cancel_requested=False
        ).update(
            cancel_requested=True, message="Cancelling…", version=F("version") + 1,
            updated_at=now,
        )
        if not asked:
            job = Job.objects.get(pk=job_id)
            if job.is_terminal:
                raise JobAlreadyFinished(f"The job is already {job.status}.")
            return job  # running and already asked to cancel: idempotent
    job = Job.objects.get(pk=job_id)
    publish(job)
    return job


def job_interrupt(*, job_id: Any, reason: str) -> Job | None:
    """Mark an active job interrupted (its server died or stopped); None if already final."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job_id, status__in=ACTIVE_STATUSES).update(
        status=JobStatus.INTERRUPTED, finished_at=now, error=reason, message="Interrupted",
        version=F("version") + 1, updated_at=now,
    )
    if not updated:
        return None
    job = Job.objects.get(pk=job_id)
    logger.warning("job %s interrupted: %s", job_id, reason)
    publish(job)
    return job


def jobs_interrupt_stale(*, stale_before: Any) -> list[Job]:
    """Interrupt every active job whose server stopped beating before `stale_before`."""
    ids = list(
        Job.objects.filter(status__in=ACTIVE_STATUSES)
        .filter(Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True))
        .values_list("pk", flat=True)
    )
    done = []
    for job_id in ids:
        job = job_interrupt(
            job_id=job_id,
            reason="Its server stopped responding (no heartbeat); it can be started again.",
        )
        if job is not None:
            done.append(job)
    return done


def jobs_interrupt_own(*, reason: str) -> list[Job]:
    """Interrupt every active job of this process (graceful shutdown)."""
    ids = list(
        Job.objects.filter(status__in=ACTIVE_STATUSES, worker_id=WORKER_ID)
        .values_list("pk", flat=True)
    )
    return [job for job_id in ids if (job := job_interrupt(job_id=job_id, reason=reason))]


def jobs_beat(*, worker_id: str = WORKER_ID) -> int:
    """Refresh the heartbeat of this process's active jobs; returns how many."""
    return Job.objects.filter(status__in=ACTIVE_STATUSES, worker_id=worker_id).update(
        heartbeat_at=timezone.now()
    )


def job_resume(*, job_id: Any, user_id: int) -> Job:
    """Start the job that continues a finished one (a new job; the old one stays final)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if not job_is_resumable(job):
            raise JobNotResumable(f"This {job.kind} job cannot be resumed ({job.status}).")
        resume = kinds.resumer(job.kind)
        assert resume is not None
        new_job = resume(job, user_id)
        job.result = {**(job.result or {}), "resumed_by": str(new_job.pk)}
        job.version = F("version") + 1
        job.save(update_fields=["result", "version", "updated_at"])
        transaction.on_commit(lambda: publish(Job.objects.get(pk=job_id)))
    return new_job
