"""The summary email a campaign's owner receives when it ends, whatever its status."""

from __future__ import annotations

import csv
import io
import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db.models import Count, Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from post_office import mail
from post_office.utils import create_attachments

from campaigns.dispatch.render import one_line
from campaigns.models import Campaign, Recipient, RecipientStatus
from jobs.models import Job
from jobs.numbers import fmt_number
from jobs.snapshot import iso
from realtime_site.csv_text import csv_text
from realtime_site.mail import transport_connection

logger = logging.getLogger(__name__)

INLINE_FAILURES = 20


def _duration(job: Job) -> str:
    if job.started_at is None:
        return "not started"
    seconds = ((job.finished_at or timezone.now()) - job.started_at).total_seconds()
    return str(timedelta(seconds=round(max(0.0, seconds), 1))).rstrip("0").rstrip(".")


def _when(value: Any) -> str:
    """A moment on the site's wall clock (DJANGO_TIME_ZONE), the zone named:
    "2026-12-04 20:01:02 UTC", "2026-12-04 21:01:02 CET (Europe/Paris)"."""
    if value is None:
        return "–"
    zone = timezone.get_default_timezone()
    local = timezone.localtime(value, zone)
    name, abbreviation = str(zone), local.strftime("%Z")
    label = name if abbreviation in ("", name) else f"{abbreviation} ({name})"
    return f"{local:%Y-%m-%d %H:%M:%S} {label}"


def dashboard_link(job_id: Any) -> str:
    """The absolute address of the dashboard, pointing at the job's card (SITE_URL)."""
    return f"{settings.SITE_URL}{reverse('dashboard')}#job-{job_id}"


def summary_counts(*, job_id: Any) -> dict[str, int]:
    """Totals for one campaign job, from its recipient rows."""
    agg = Recipient.objects.filter(job_id=job_id).aggregate(
        total=Count("pk"),
        sent=Count("pk", filter=Q(status=RecipientStatus.SENT)),
        failed=Count("pk", filter=Q(status=RecipientStatus.FAILED)),
        maybe_duplicate=Count("pk", filter=Q(maybe_duplicate=True,
                                             status=RecipientStatus.SENT)),
    )
    agg["not_sent"] = agg["total"] - agg["sent"] - agg["failed"]
    return agg


def failures_csv(*, job_id: Any) -> bytes:
    """Every failed recipient of a job as CSV (UTF-8 with a BOM, so Excel reads the
    encoding): email, reason, retryable, attempts, failed_at. The summary mail's attachment
    and the dashboard's download. Addresses are typed by users ("=HYPERLINK(...)@example.com"
    is a valid local part) and reasons come from remote mail servers: both are guarded."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(["email", "reason", "retryable", "attempts", "failed_at"])
    rows = (Recipient.objects.filter(job_id=job_id, status=RecipientStatus.FAILED)
            .order_by("pk").values_list("email", "error", "retryable", "attempts",
                                        "finished_at"))
    for email, error, retryable, attempts, finished_at in rows.iterator(chunk_size=2000):
        # One line per recipient: a reason with line breaks would start rows of its own in
        # a spreadsheet that splits on them.
        reason = " ".join(error.split())
        writer.writerow([csv_text(email), csv_text(reason), "yes" if retryable else "no",
                         attempts, iso(finished_at) or ""])
    return out.getvalue().encode("utf-8")


def campaign_summary_send(*, job_id: Any, status: str | None = None, error: str = "",
                          extra: dict | None = None) -> bool:
    """Mail the owner the campaign's summary once; False when it was already sent (or no one)."""
    now = timezone.now()
    if not Campaign.objects.filter(pk=job_id, summary_sent_at__isnull=True).update(
        summary_sent_at=now
    ):
        return False
    campaign = Campaign.objects.select_related("job__owner", "agreement").get(pk=job_id)
    job = campaign.job
    owner_email = job.owner.email
    if not owner_email:
        logger.warning("campaign %s: its owner has no email address; no summary", job_id)
        return False
    status = status or job.status
    counts = summary_counts(job_id=job_id)
    failures = list(
        Recipient.objects.filter(job_id=job_id, status=RecipientStatus.FAILED)
        .order_by("pk").values("email", "error")[:INLINE_FAILURES]
    )
    csv_attached = counts["failed"] > INLINE_FAILURES
    context = {
        "title": job.title, "status": status, "counts": counts, "duration": _duration(job),
        "started": _when(job.started_at), "ended": _when(job.finished_at),
        "dashboard_url": dashboard_link(job.pk), "resumable": job.resumable,
        "failures": failures, "csv_attached": csv_attached, "job_id": job.pk,
        "error": error or job.error, **(extra or {}),
    }
    try:
        # Created with status None and dispatched here on the campaign's transport: never
        # queued, so post-office's send_queued cannot send it a second time
        # (docs/architecture.md, trap 7).
        email = mail.create(
            settings.DEFAULT_FROM_EMAIL, [owner_email],
            # One line: a CR/LF here would be a BadHeaderError at dispatch, the email lost.
            subject=one_line(f"Campaign {status}: {fmt_number(counts['sent'])} sent, "
                             f"{fmt_number(counts['failed'])} failed "
                             f"({campaign.agreement.title})"),
            message=render_to_string("campaigns/email/summary.txt", context),
            priority="now", commit=True,
        )
        if csv_attached:
            email.attachments.add(*create_attachments(
                {f"failed-{job.pk}.csv": {"file": ContentFile(failures_csv(job_id=job_id)),
                                           "mimetype": "text/csv"}}
            ))
        email.dispatch(connection=transport_connection(),
                       disconnect_after_delivery=False)
    except Exception:
        logger.exception("campaign %s: the summary email could not be prepared", job_id)
        return False
    Campaign.objects.filter(pk=job_id).update(summary_mail=email)
    return True
