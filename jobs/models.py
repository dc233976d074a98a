"""The Job row: the single source of truth every server and every reconnecting browser reads.

Every change of a row goes through `JobQuerySet.transition`, the one place that keeps the
contract's promise: `version` grows with every change, and the change is persisted before it
is pushed (docs/contract.md, "JOB"; docs/architecture.md, trap 3).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Case, F, Q, Value, When
from django.utils import timezone

from jobs import kinds
from jobs.pushed import pushed


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted"


TERMINAL_STATUSES = frozenset(
    {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.INTERRUPTED}
)
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})

Publish = Literal["now", "on_commit", "never"]


class JobQuerySet(models.QuerySet):
    """Named selections of jobs, and the one way to change a job."""

    # jobs.publish.publish_job, set by JobsConfig.ready(): the snapshot and the broadcaster
    # build on this module, so it cannot import them.
    publisher: ClassVar[Callable[..., dict] | None] = None

    def active(self) -> JobQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def queued(self) -> JobQuerySet:
        return self.filter(status=JobStatus.QUEUED)

    def running(self) -> JobQuerySet:
        return self.filter(status=JobStatus.RUNNING)

    def terminal(self) -> JobQuerySet:
        return self.filter(status__in=TERMINAL_STATUSES)

    def of_worker(self, worker_id: str) -> JobQuerySet:
        return self.filter(worker_id=worker_id)

    def stale(self, before: datetime) -> JobQuerySet:
        """Active jobs whose process stopped beating before `before` (or never beat)."""
        return self.active().filter(Q(heartbeat_at__lt=before) | Q(heartbeat_at__isnull=True))

    def of_kind(self, kind: str) -> JobQuerySet:
        return self.filter(kind=kind)

    def transition(self, job_id: Any, *, publish: Publish = "now", sender: Any = None,
                   **changes: Any) -> Job | None:
        """Apply `changes` to one job if it is still in this queryset; None when it is not.

        One conditional UPDATE (the queryset's filters are the condition, so two parties
        racing for the same change cannot both win), `version` + 1, `updated_at` now; then
        the row is read back and its snapshot pushed (through `sender`, default the
        process's broadcaster), after the commit when asked; the pushed snapshot is kept on
        the returned job as `pushed_snapshot`. A terminal status also records whether the
        job's kind can resume it.
        """
        now = timezone.now()
        status = changes.get("status")
        if status in TERMINAL_STATUSES and "resumable" not in changes:
            resumable = kinds.resumable_kinds(status)
            changes["resumable"] = (
                Case(When(kind__in=resumable, then=Value(True)), default=Value(False))
                if resumable else False
            )
        push = JobQuerySet.publisher
        if publish != "never" and push is None:
            raise ImproperlyConfigured("jobs.publish is not wired: is 'jobs' installed?")
        # From the UPDATE to its push the row is readable at a version not pushed yet: the
        # mark keeps jobs/watch.py from pushing it a second time meanwhile.
        marked = publish != "never"
        if marked:
            pushed.begin(job_id)
        try:
            updated = self.filter(pk=job_id).update(
                **changes, version=F("version") + 1, updated_at=now
            )
            if not updated:
                return None
            job = Job.objects.get(pk=job_id)
            job.pushed_snapshot = None
            if publish == "on_commit":
                def later() -> None:
                    try:
                        push(job, sender=sender)
                    finally:
                        pushed.end(job_id)

                marked = False  # ended by `later` (a rolled-back mark expires: jobs/pushed.py)
                transaction.on_commit(later)
            elif publish != "never":
                job.pushed_snapshot = push(job, sender=sender)
            return job
        finally:
            if marked:
                pushed.end(job_id)

    def beat(self) -> int:
        """Refresh the heartbeat of these jobs; returns how many.

        The one write that is not a change of the job as clients see it: no version bump and
        no push (it would wake every watching browser every JOBS_HEARTBEAT_INTERVAL for
        nothing). Only the stale sweep reads `heartbeat_at`.
        """
        return self.update(heartbeat_at=timezone.now())


class Job(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=40, db_index=True)
    title = models.CharField(max_length=200)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    params = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=12, choices=JobStatus.choices, default=JobStatus.QUEUED, db_index=True
    )
    total = models.PositiveIntegerField(null=True, blank=True)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    # Grows with every change; clients keep the highest (docs/contract.md, "version").
    version = models.PositiveIntegerField(default=1)
    message = models.CharField(max_length=300, blank=True)
    error = models.TextField(blank=True)
    result_file = models.CharField(max_length=500, blank=True, help_text="Path in default storage.")
    result_name = models.CharField(max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Indexed: a server on the in-process layer reads the rows changed since it last looked
    # (jobs/watch.py), once a second.
    updated_at = models.DateTimeField(auto_now=True, db_index=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True, db_index=True)
    worker_id = models.CharField(max_length=120, blank=True, db_index=True)
    cancel_requested = models.BooleanField(default=False)
    # Set when the job ends, from its kind (JobKind.can_resume); cleared once resumed.
    resumable = models.BooleanField(default=False)
    resumed_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="resumes"
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.title} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES
