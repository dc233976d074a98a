"""Reads on jobs, always scoped to what the caller may see."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Q, QuerySet, Subquery

from jobs import kinds
from jobs.models import Job


def jobs_visible_to(*, user: Any) -> QuerySet[Job]:
    """Active staff see their own jobs, superusers every job; nobody else sees any.

    Each job's kind may narrow this further (`kinds.allows`): who lost the right to export
    claims no longer lists or downloads the exports made before.
    """
    if not (user.is_active and user.is_staff):
        return Job.objects.none()
    if user.is_superuser:
        return Job.objects.all()
    barred = [kind.name for kind in kinds.every() if not kind.allows(user, None)]
    return Job.objects.filter(owner_id=user.pk).exclude(kind__in=barred)


def job_get_visible(*, user: Any, job_id: Any) -> Job | None:
    """The job if the user may see it, else None (the API answers 404 either way)."""
    try:
        key = uuid.UUID(str(job_id))
    except (TypeError, ValueError, AttributeError):
        return None
    job = jobs_visible_to(user=user).filter(pk=key).first()
    return job if job is not None and kinds.allows(user, job) else None


def with_resumed_by(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """Annotate each job with the newest job of the same owner that resumed it
    (`resumed_by_pk`, read by jobs.snapshot): one query for a whole list instead of one per
    job. The same owner only: a superuser's retry of someone's job is not theirs to see."""
    later = Job.objects.filter(resumed_from=OuterRef("pk"), owner=OuterRef("owner"))
    return jobs.annotate(resumed_by_pk=Subquery(later.order_by("-created_at").values("pk")[:1]))


def _own(user: Any) -> QuerySet[Job]:
    return with_resumed_by(jobs_visible_to(user=user).filter(owner_id=user.pk))


def jobs_recent(*, user: Any, limit: int | None = None) -> list[Job]:
    """The user's own recent jobs, newest first (the dashboard and the WebSocket snapshot)."""
    limit = limit or settings.JOBS_RECENT_LIMIT
    own = _own(user).order_by("-created_at")[:limit]
    return [job for job in own if kinds.allows(user, job)]


@dataclass(frozen=True)
class JobsPage:
    jobs: list[Job]
    # The `before` of the next page; None when this page reached the oldest job.
    next_before: str | None


def jobs_page(*, user: Any, limit: int, kinds_in: tuple[str, ...] = (),
              statuses: tuple[str, ...] = (), q: str = "",
              before: Job | None = None) -> JobsPage:
    """One page of the user's own jobs, newest first, filtered (GET /api/jobs/).

    Keyset paging on (created_at, id), both descending: a page never repeats or skips a job
    when new jobs arrive meanwhile, unlike an offset. `before` must come from `jobs_cursor`
    (a job of this user). The kind's own visibility rule (`kinds.allows`) is applied after
    the database's page, so a page may hold fewer than `limit` jobs and still have a next one.
    """
    jobs = _own(user)
    if kinds_in:
        jobs = jobs.filter(kind__in=kinds_in)
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    if q:
        jobs = jobs.filter(title__icontains=q)
    if before is not None:
        jobs = jobs.filter(Q(created_at__lt=before.created_at)
                           | Q(created_at=before.created_at, pk__lt=before.pk))
    rows = list(jobs.order_by("-created_at", "-pk")[:limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return JobsPage(jobs=[job for job in rows if kinds.allows(user, job)],
                    next_before=str(rows[-1].pk) if more else None)


def jobs_cursor(*, user: Any, job_id: uuid.UUID) -> Job | None:
    """The job a `before` cursor names, among the user's own jobs only (None otherwise: a
    cursor cannot be used to learn anything about someone else's jobs)."""
    return Job.objects.filter(owner_id=user.pk, pk=job_id).only("pk", "created_at").first()
