"""Reads on agreements and campaigns."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, QuerySet

from campaigns.models import Acceptance, Agreement, Campaign, Recipient, RecipientStatus
from jobs.models import ACTIVE_STATUSES


def agreement_resolve(value: Any) -> Agreement | None:
    """An agreement by id (int or digits) or slug; None when there is none."""
    if value is None or isinstance(value, bool | list | dict | float):
        return None
    text = str(value).strip()
    if not text or len(text) > 80:
        return None
    if text.isascii() and text.isdigit():  # "²" is a digit to isdigit() but not to int()
        found = Agreement.objects.filter(pk=int(text)).first()
        if found is not None:
            return found
    return Agreement.objects.filter(slug=text).first()


def users_unsigned(*, agreement_id: int) -> QuerySet:
    """Active users with an email address who have not accepted the agreement."""
    accepted = Acceptance.objects.filter(agreement_id=agreement_id, user_id=OuterRef("pk"))
    return (
        get_user_model().objects.filter(is_active=True)
        .exclude(email="")
        .filter(~Exists(accepted))
    )


def agreements_with_unsigned() -> list[dict]:
    """Every agreement with its unsigned count (the dashboard's list)."""
    return [
        {"id": a.pk, "slug": a.slug, "title": a.title, "version": a.version,
         "unsigned": users_unsigned(agreement_id=a.pk).count()}
        for a in Agreement.objects.order_by("title", "pk")
    ]


def campaign_active_for(*, agreement_id: int) -> Campaign | None:
    """The queued or running campaign for an agreement, if any."""
    return (
        Campaign.objects.filter(agreement_id=agreement_id, job__status__in=ACTIVE_STATUSES)
        .select_related("job").first()
    )


def recipient_counts(*, job_id: Any) -> dict[str, int]:
    """How many recipients of a job are in each status."""
    counts = dict.fromkeys(RecipientStatus.values, 0)
    rows = (Recipient.objects.filter(job_id=job_id).order_by().values("status")
            .annotate(n=Count("pk")))
    for row in rows:
        counts[row["status"]] = row["n"]
    return counts
