"""Writes on jobs: create and start, cancel, interrupt, resume."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.numbers import fmt_number
from jobs.publish import publish_job
from jobs.pushed import pushed
from jobs.runner import WORKER_ID, runner
from realtime_site.api import ApiError, ServiceUnavailable

logger = logging.getLogger(__name__)


class JobAlreadyFinished(Exception):
    """The job is in a terminal state; nothing can change it."""


class ServerShuttingDown(ServiceUnavailable):
    """This server stopped taking jobs (SIGTERM); another server, or a retry, will."""


class TooManyJobs(ApiError):
    """The owner already has JOBS_MAX_ACTIVE_PER_USER jobs queued or running."""

    status = 429
    retry_after = 10


class JobNotResumable(Exception):
    """The job cannot be resumed (still active, succeeded, already resumed, or kind has no hook)."""


_foreground = threading.local()


def job_start(
    *, kind: str, owner_id: int, title: str, params: dict[str, Any] | None = None,
    total: int | None = None, resumed_from_id: Any = None,
) -> Job:
    """Create a queued job and hand it to this server's pool once the transaction commits."""
    if not runner.accepting:
        raise ServerShuttingDown("This server is shutting down; try again in a few seconds.")
    with transaction.atomic():
        # The owner's row lock serializes two starts of one user (PostgreSQL; SQLite's
        # IMMEDIATE transactions serialize them anyway), so the cap cannot be raced past.
        list(get_user_model().objects.select_for_update().filter(pk=owner_id).values_list("pk"))
        active = Job.objects.active().filter(owner_id=owner_id).count()
        limit = settings.JOBS_MAX_ACTIVE_PER_USER
        if active >= limit:
            raise TooManyJobs(f"You already have {fmt_number(active)} jobs queued or running "
                              f"(the limit is {fmt_number(limit)}); start this one when one of "
                              "them has finished.")
        return _create(kind=kind, owner_id=owner_id, title=title, params=params, total=total,
                       resumed_from_id=resumed_from_id)


def _create(*, kind: str, owner_id: int, title: str, params: dict[str, Any] | None,
            total: int | None, resumed_from_id: Any) -> Job:
    job = Job.objects.create(
        kind=kind,
        owner_id=owner_id,
        title=title[:200],
        params=params or {},
        total=total,
        worker_id=WORKER_ID,
        heartbeat_at=timezone.now(),
        message="Queued",
        resumed_from_id=resumed_from_id,
    )
    held = getattr(_foreground, "jobs", None)
    # Readable by other connections from the commit on, pushed just after it: marked until
    # then, so jobs/watch.py does not push the new row too (jobs/pushed.py).
    pushed.begin(job.pk)
    if held is not None:
        held.append(job)
        transaction.on_commit(lambda: _pushed(job, publish_job))
    else:
        transaction.on_commit(lambda: _pushed(job, _submit))
    return job


def _pushed(job: Job, push: Any) -> None:
    try:
        push(job)
    finally:
        pushed.end(job.pk)


@contextmanager
def jobs_held() -> Iterator[list[Job]]:
    """Inside the block, job_start creates rows without handing them to the pool.

    Plumbing of jobs.process.run_foreground, the one entry point that runs a job in the
    calling thread; nothing else holds jobs.
    """
    previous = getattr(_foreground, "jobs", None)
    _foreground.jobs = held = []
    try:
        yield held
    finally:
        _foreground.jobs = previous


def _submit(job: Job) -> None:
    publish_job(job)
    if runner.submit(job.pk, job.owner_id) is None:
        job_interrupt(job_id=job.pk, reason="The server was shutting down; start the job again.")


def _tally(job_id: Any) -> dict[str, int]:
    """The true counts for a terminal transition written here ({}: keep the row's).

    Where the job's code still runs in a thread of this process (a shutdown), the counts may
    still move: the runner writes the final ones once that code has stopped.
    """
    job = Job.objects.filter(pk=job_id).first()
    return (kinds.tally(job) or {}) if job is not None else {}


def job_cancel(*, job_id: Any) -> Job:
    """Ask a job to stop: a queued job is cancelled at once, a running one at its next check."""
    job = Job.objects.queued().transition(
        job_id, status=JobStatus.CANCELLED, cancel_requested=True,
        finished_at=timezone.now(), message="Cancelled", **_tally(job_id),
    )
    if job is not None:
        kinds.ended(job)  # it never ran: no thread will
        return job
    job = Job.objects.running().filter(cancel_requested=False).transition(
        job_id, cancel_requested=True, message="Cancelling…",
    )
    if job is not None:
        return job
    job = Job.objects.get(pk=job_id)
    if job.is_terminal:
        raise JobAlreadyFinished(f"The job is already {job.status}.")
    return job  # running and already asked to cancel: idempotent


def job_interrupt(*, job_id: Any, reason: str, notes: dict[str, Any] | None = None
                  ) -> Job | None:
    """Mark an active job interrupted (its process died or stopped); None if already final.

    The end-of-job hook runs here unless a thread of this process is inside the job's code:
    that thread meets JobStopped at its next report and runs the hook once it has stopped.
    `notes`: what the stopped run left in `Reporter.notes`, when this process ran it (Ctrl-C
    of a foreground job: the campaign summary's SMTP connection count).
    """
    job = Job.objects.active().transition(
        job_id, status=JobStatus.INTERRUPTED, finished_at=timezone.now(), error=reason,
        message="Interrupted", **_tally(job_id),
    )
    if job is None:
        return None
    logger.warning("job %s interrupted: %s", job_id, reason)
    if not runner.is_running(job.pk):
        kinds.ended(job, notes)
    return job


def jobs_interrupt_stale(*, stale_before: datetime) -> list[Job]:
    """Interrupt every active job whose process stopped beating before `stale_before`."""
    ids = list(Job.objects.stale(stale_before).values_list("pk", flat=True))
    reason = "Its server stopped responding (no heartbeat); it can be started again."
    return [job for job_id in ids if (job := job_interrupt(job_id=job_id, reason=reason))]


def jobs_interrupt_own(*, reason: str) -> list[Job]:
    """Interrupt every active job of this process (graceful shutdown)."""
    ids = list(Job.objects.active().of_worker(WORKER_ID).values_list("pk", flat=True))
    return [job for job_id in ids if (job := job_interrupt(job_id=job_id, reason=reason))]


def jobs_beat(*, worker_id: str = WORKER_ID) -> int:
    """Refresh the heartbeat of this process's active jobs; returns how many."""
    return Job.objects.active().of_worker(worker_id).beat()


def job_resume(*, job_id: Any, user_id: int) -> Job:
    """Start the job that continues a finished one (a new job; the old one stays final)."""
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        kind = kinds.find(job.kind)
        if not (job.resumable and job.is_terminal) or kind is None or kind.resume is None:
            raise JobNotResumable(f"This {job.kind} job cannot be resumed ({job.status}).")
        new_job = kind.resume(job, user_id)
        # The old card loses its resume button; `resumed_from` on the new job says by whom.
        Job.objects.transition(job.pk, resumable=False, publish="on_commit", **_tally(job.pk))
    return new_job
