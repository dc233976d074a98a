"""Reads on agreements and campaigns."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.utils import timezone

from campaigns.models import Acceptance, Agreement, Campaign, Recipient, RecipientStatus
from jobs.models import ACTIVE_STATUSES
from jobs.snapshot import iso


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


def resend_cutoff() -> datetime:
    """Reminders attempted after this moment count as recent (CAMPAIGN_RESEND_AFTER)."""
    return timezone.now() - timedelta(seconds=max(0.0, settings.CAMPAIGN_RESEND_AFTER))


def reminders_since(*, agreement_id: int, version: int, since: datetime) -> QuerySet:
    """Recipient rows of any campaign for this agreement version whose reminder was sent, or
    may have been (`sending`: its process died mid-exchange), after `since`."""
    return Recipient.objects.filter(
        job__campaign__agreement_id=agreement_id, job__campaign__agreement_version=version,
        status__in=[RecipientStatus.SENT, RecipientStatus.SENDING], attempted_at__gte=since,
    )


def users_unsigned_split(*, agreement_id: int, version: int, since: datetime
                         ) -> tuple[QuerySet, QuerySet]:
    """The unsigned users (fresh, recently reminded): who a new campaign mails by default, and
    who it skips unless its starter includes them."""
    recent = reminders_since(agreement_id=agreement_id, version=version, since=since)
    reminded = Exists(recent.filter(user_id=OuterRef("pk")))
    unsigned = users_unsigned(agreement_id=agreement_id)
    return unsigned.filter(~reminded), unsigned.filter(reminded)


def last_campaign(*, agreement_id: int, version: int) -> dict | None:
    """The latest campaign for this agreement version: its job, status, times, how many it
    was to mail (`recipients`, null until chosen), sent and failed; `seconds_ago` since it was
    started."""
    campaign = (Campaign.objects.filter(agreement_id=agreement_id, agreement_version=version)
                .select_related("job").order_by("-job__created_at").first())
    if campaign is None:
        return None
    job = campaign.job
    return {"job_id": str(job.pk), "status": job.status, "created_at": iso(job.created_at),
            "finished_at": iso(job.finished_at), "recipients": job.total, "sent": job.done,
            "failed": job.failed,
            "seconds_ago": round((timezone.now() - job.created_at).total_seconds())}


def agreements_with_unsigned() -> list[dict]:
    """Every agreement with its unsigned count, how many of them were reminded recently, and
    its last campaign (the dashboard's list)."""
    since = resend_cutoff()
    rows = []
    for a in Agreement.objects.order_by("title", "pk"):
        _fresh, recent = users_unsigned_split(agreement_id=a.pk, version=a.version, since=since)
        rows.append({
            "id": a.pk, "slug": a.slug, "title": a.title, "version": a.version,
            "unsigned": users_unsigned(agreement_id=a.pk).count(),
            "reminded_recently": recent.count(),
            "last_campaign": last_campaign(agreement_id=a.pk, version=a.version),
        })
    return rows


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


def campaign_audience(*, agreement: Agreement, include_recent: bool) -> dict[str, Any]:
    """Who a campaign started now would mail: `recipients`, `skipped_recent` (unsigned users
    reminded within CAMPAIGN_RESEND_AFTER, left out unless `include_recent`), the
    agreement's `last_campaign` and `resend_after` (seconds)."""
    fresh, recent = users_unsigned_split(agreement_id=agreement.pk, version=agreement.version,
                                         since=resend_cutoff())
    fresh_count, recent_count = fresh.count(), recent.count()
    return {
        "recipients": fresh_count + (recent_count if include_recent else 0),
        "skipped_recent": 0 if include_recent else recent_count,
        "last_campaign": last_campaign(agreement_id=agreement.pk, version=agreement.version),
        "resend_after": settings.CAMPAIGN_RESEND_AFTER,
    }


def agreement_counts(*, agreement: Agreement) -> dict[str, int]:
    """The live figures of one agreement's row on the dashboard: `unsigned` and
    `reminded_recently` (as in `agreements_with_unsigned`)."""
    _fresh, recent = users_unsigned_split(agreement_id=agreement.pk, version=agreement.version,
                                          since=resend_cutoff())
    return {"unsigned": users_unsigned(agreement_id=agreement.pk).count(),
            "reminded_recently": recent.count()}
