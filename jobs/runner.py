"""The bounded thread pool that runs jobs, and the per-process worker identity."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.progress import JobCancelled, JobStopped, Reporter

logger = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Runner:
    """A process-wide pool of `JOBS_WORKERS` threads; jobs wait in its queue while it is full."""

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.accepting = True
        self.futures: dict[str, Future] = {}
        # Jobs whose code runs in a thread of this process right now (pool or foreground).
        self._running: set[str] = set()

    def _pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=settings.JOBS_WORKERS, thread_name_prefix="job"
                )
            return self._executor

    def submit(self, job_id: str) -> Future | None:
        """Queue a job that is committed with status `queued`."""
        if not self.accepting:
            logger.warning("not accepting job %s: this server is shutting down", job_id)
            return None
        future = self._pool().submit(execute, str(job_id))
        self.futures[str(job_id)] = future
        future.add_done_callback(lambda _f, key=str(job_id): self.futures.pop(key, None))
        return future

    def is_running(self, job_id: object) -> bool:
        """Whether a thread of this process is inside this job's code (it will run the end
        hook itself when the code returns)."""
        with self._lock:
            return str(job_id) in self._running

    def _enter(self, job_id: str) -> None:
        with self._lock:
            self._running.add(job_id)

    def _leave(self, job_id: str) -> None:
        with self._lock:
            self._running.discard(job_id)

    def shutdown(self, *, wait: bool) -> None:
        """Stop taking jobs; optionally wait for the running ones to return."""
        self.accepting = False
        with self._lock:
            executor = self._executor
        if executor is not None:
            executor.shutdown(wait=wait, cancel_futures=True)


runner = Runner()


def _claim(job_id: str) -> Job | None:
    """Move a queued job to running; None if it was cancelled or taken meanwhile."""
    now = timezone.now()
    return Job.objects.queued().transition(
        job_id, status=JobStatus.RUNNING, started_at=now, heartbeat_at=now,
        worker_id=WORKER_ID, message="Starting",
    )


def execute(job_id: str, *, reporter_factory: Callable[[Job], Reporter] | None = None
            ) -> str | None:
    """Run one job to its end in the calling thread; returns the final status.

    `reporter_factory` lets a foreground caller (an operator command) watch progress.
    """
    close_old_connections()
    job_id = str(job_id)
    runner._enter(job_id)
    try:
        job = _claim(job_id)
        if job is None:
            return None
        reporter = (reporter_factory or Reporter)(job)
        kind = kinds.find(job.kind)
        if kind is None:
            reporter.finish(JobStatus.FAILED, error=f"Unknown job kind {job.kind!r}.",
                            message="Failed")
            return JobStatus.FAILED
        status = _run(job, reporter, kind)
        job.refresh_from_db()
        kind.ended(job, reporter.notes)
        return status
    except Exception:
        logger.exception("job %s: the runner itself failed", job_id)
        return None
    finally:
        runner._leave(job_id)
        connection.close()


def _run(job: Job, reporter: Reporter, kind: kinds.JobKind) -> str | None:
    try:
        outcome = kind.run(job, reporter) or kinds.JobOutcome()
    except JobCancelled:
        reporter.finish(JobStatus.CANCELLED, message="Cancelled")
        return JobStatus.CANCELLED
    except JobStopped as exc:
        logger.info("job %s stopped: %s", job.pk, exc)
        return None
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        reporter.finish(JobStatus.FAILED, message="Failed", error=f"{type(exc).__name__}: {exc}")
        return JobStatus.FAILED
    reporter.finish(
        outcome.status,
        message=outcome.message,
        result_file=outcome.result_file,
        result_name=outcome.result_name,
        expires_at=outcome.expires_at,
        result=outcome.data or None,
    )
    return outcome.status
