"""Reads on jobs, always scoped to what the caller may see."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

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


def jobs_recent(*, user: Any, limit: int | None = None) -> list[Job]:
    """The user's own recent jobs, newest first (the dashboard and the WebSocket snapshot)."""
    limit = limit or settings.JOBS_RECENT_LIMIT
    own = jobs_visible_to(user=user).filter(owner_id=user.pk).order_by("-created_at")[:limit]
    return [job for job in own if kinds.allows(user, job)]
