"""The bounded thread pool that runs jobs, and the per-process worker identity."""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.progress import JobCancelled, JobStopped, Reporter

logger = logging.getLogger(__name__)

WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class FairQueue:
    """Jobs waiting for a thread, served round-robin by owner: one user's thirty exports queue
    behind each other, not in front of another user's one."""

    def __init__(self) -> None:
        self._owners: deque[Any] = deque()
        self._jobs: dict[Any, deque[tuple[str, Future]]] = {}

    def put(self, owner: Any, item: tuple[str, Future]) -> None:
        if owner not in self._jobs:
            self._jobs[owner] = deque()
            self._owners.append(owner)
        self._jobs[owner].append(item)

    def pop(self) -> tuple[str, Future] | None:
        if not self._owners:
            return None
        owner = self._owners.popleft()
        waiting = self._jobs[owner]
        item = waiting.popleft()
        if waiting:
            self._owners.append(owner)  # its next job waits for everyone else's turn
        else:
            del self._jobs[owner]
        return item

    def drain(self) -> list[tuple[str, Future]]:
        items = [item for owner in self._owners for item in self._jobs[owner]]
        self._owners.clear()
        self._jobs.clear()
        return items

    def __len__(self) -> int:
        return sum(len(waiting) for waiting in self._jobs.values())


class Runner:
    """A process-wide pool of `JOBS_WORKERS` threads; jobs wait in a fair queue while it is full.

    The threads are a ThreadPoolExecutor's (its exit and shutdown behaviour, docs/architecture.md
    trap 5), but it is only ever given as many jobs as it has threads: the rest wait in the
    FairQueue, and each job that ends hands its thread to the next owner in turn.
    """

    def __init__(self) -> None:
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a job's code leaves
        self._waiting = FairQueue()
        self._busy = 0
        self.accepting = True
        self.futures: dict[str, Future] = {}
        # Jobs whose code runs in a thread of this process right now (pool or foreground).
        self._running: set[str] = set()

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=settings.JOBS_WORKERS, thread_name_prefix="job"
            )
        return self._executor

    def submit(self, job_id: str, owner_id: Any = None) -> Future | None:
        """Queue a job that is committed with status `queued`."""
        if not self.accepting:
            logger.warning("not accepting job %s: this server is shutting down", job_id)
            return None
        key = str(job_id)
        future: Future = Future()
        self.futures[key] = future
        future.add_done_callback(lambda _f: self.futures.pop(key, None))
        with self._lock:
            self._waiting.put(owner_id, (key, future))
            self._pump()
        return future

    def _pump(self) -> None:
        """Give free threads their next job (called with the lock held)."""
        while self._busy < settings.JOBS_WORKERS and (item := self._waiting.pop()):
            key, future = item
            if not future.set_running_or_notify_cancel():
                continue
            self._busy += 1
            self._pool().submit(execute, key).add_done_callback(
                lambda done, future=future: self._finished(future, done))

    def _finished(self, future: Future, done: Future) -> None:
        with self._lock:
            self._busy -= 1
            if self.accepting:
                self._pump()
        if done.cancelled():
            future.cancel()
        elif done.exception() is not None:
            future.set_exception(done.exception())
        else:
            future.set_result(done.result())

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
            self._idle.notify_all()

    def wait_stopped(self, timeout: float) -> bool:
        """Wait until no job's code runs in this process (up to `timeout`); whether it holds."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._running, timeout=timeout)

    def shutdown(self, *, wait: bool) -> None:
        """Stop taking jobs, drop the waiting ones; optionally wait for the running ones."""
        with self._lock:
            self.accepting = False
            waiting = self._waiting.drain()
            executor = self._executor
        for _key, future in waiting:
            future.cancel()
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


def _true_counts(job: Job, reporter: Reporter, kind: kinds.JobKind) -> dict[str, int]:
    """The counts the ending writes: the kind's tally, else what the Reporter counted (the
    job's code has stopped, so neither changes any more)."""
    truth = kind.tally(job) or {"done": reporter.done, "failed": reporter.failed}
    reporter.done, reporter.failed = truth["done"], truth["failed"]
    return truth


def _settle(job: Job, truth: dict[str, int]) -> None:
    """Someone else ended the job (a shutdown, the stale sweep) while its code still ran here:
    the row has the counts of its last flush; give it the final ones."""
    row = Job.objects.filter(pk=job.pk).values("done", "failed").first()
    if row is not None and row != truth:
        logger.info("job %s: final counts %s (its ending wrote %s)", job.pk, truth, row)
        Job.objects.terminal().transition(job.pk, **truth)


def _run(job: Job, reporter: Reporter, kind: kinds.JobKind) -> str | None:
    """Run the job's code and write its ending; None when someone else ended it meanwhile
    (a shutdown, the stale sweep): the row then only gets the final counts."""
    try:
        outcome = kind.run(job, reporter) or kinds.JobOutcome()
    except JobCancelled:
        return _finish(job, reporter, kind, JobStatus.CANCELLED, message="Cancelled")
    except JobStopped as exc:
        logger.info("job %s stopped: %s", job.pk, exc)
        _settle(job, _true_counts(job, reporter, kind))
        return None
    except Exception as exc:
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        return _finish(job, reporter, kind, JobStatus.FAILED, message="Failed",
                       error=f"{type(exc).__name__}: {exc}")
    return _finish(
        job, reporter, kind, outcome.status,
        message=outcome.message,
        result_file=outcome.result_file,
        result_name=outcome.result_name,
        expires_at=outcome.expires_at,
        result=outcome.data or None,
    )


def _finish(job: Job, reporter: Reporter, kind: kinds.JobKind, status: str, **final: Any
            ) -> str | None:
    truth = _true_counts(job, reporter, kind)
    if reporter.finish(status, **final) is None:
        # The code ran to its end after a shutdown or the sweep had marked the job
        # interrupted (its check comes once per progress interval): keep that status.
        _settle(job, truth)
        return None
    return status
