"""Reads on jobs, always scoped to what the caller may see."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from jobs.models import Job


def jobs_visible_to(*, user: Any) -> QuerySet[Job]:
    """Owners see their jobs; superusers see every job."""
    if user.is_superuser:
        return Job.objects.all()
    return Job.objects.filter(owner_id=user.pk)


def job_get_visible(*, user: Any, job_id: Any) -> Job | None:
    """The job if the user may see it, else None (the API answers 404 either way)."""
    try:
        key = uuid.UUID(str(job_id))
    except (TypeError, ValueError, AttributeError):
        return None
    return jobs_visible_to(user=user).filter(pk=key).first()


def jobs_recent(*, user: Any, limit: int | None = None) -> list[Job]:
    """The user's own recent jobs, newest first (the dashboard and the WebSocket snapshot)."""
    limit = limit or settings.JOBS_RECENT_LIMIT
    return list(Job.objects.filter(owner_id=user.pk).order_by("-created_at")[:limit])
