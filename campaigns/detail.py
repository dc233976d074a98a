"""One campaign seen after (or while) it sends: its counts, its failed recipients in pages,
and those as CSV. Visibility is the job's (jobs.selectors): another user's campaign is None."""

from __future__ import annotations

from typing import Any

from campaigns.models import Campaign, Recipient, RecipientStatus
from campaigns.summary import summary_counts
from jobs.selectors import job_get_visible
from jobs.snapshot import iso

PER_PAGE = 20
MAX_PER_PAGE = 100
MAX_PAGE = 1_000_000  # beyond, an OFFSET no database needs (and SQLite's int64 overflows)


class BadPage(ValueError):
    """`page` or `per_page` is not a whole number in range; the message says which."""


def campaign_visible(*, user: Any, job_id: Any) -> Campaign | None:
    """The campaign of a job the user may see (own, with the right; superusers any), else None."""
    job = job_get_visible(user=user, job_id=job_id)
    if job is None or job.kind != "campaign":
        return None
    campaign = Campaign.objects.select_related("agreement").filter(pk=job.pk).first()
    if campaign is not None:
        campaign.job = job
    return campaign


def campaign_detail(campaign: Campaign) -> dict[str, Any]:
    """The campaign's figures from its recipient rows (what the summary email says)."""
    job, agreement = campaign.job, campaign.agreement
    counts = summary_counts(job_id=job.pk)
    return {
        "job_id": str(job.pk), "title": job.title, "status": job.status,
        "agreement": {"id": agreement.pk, "slug": agreement.slug, "title": agreement.title,
                      "version": campaign.agreement_version},
        "recipients": counts["total"], "sent": counts["sent"], "failed": counts["failed"],
        "not_sent": counts["not_sent"], "maybe_duplicate": counts["maybe_duplicate"],
        "created_at": iso(job.created_at), "finished_at": iso(job.finished_at),
    }


def _whole(value: Any, name: str, default: int, highest: int) -> int:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise BadPage(f"`{name}` must be a whole number from 1 to {highest:,}.")
    number = int(text)
    if not 1 <= number <= highest:
        raise BadPage(f"`{name}` must be a whole number from 1 to {highest:,}.")
    return number


def failed_page(campaign: Campaign, *, page: Any = None, per_page: Any = None
                ) -> dict[str, Any]:
    """One page of the failed recipients, oldest failure first: email, reason, retryable,
    attempts, failed_at; with `count`, `page`, `per_page` and `pages`. A page past the last
    is empty (the count says so); BadPage for a page or size that is not a number in range."""
    page = _whole(page, "page", 1, MAX_PAGE)
    per_page = _whole(per_page, "per_page", PER_PAGE, MAX_PER_PAGE)
    failed = Recipient.objects.filter(job_id=campaign.pk, status=RecipientStatus.FAILED)
    count = failed.count()
    pages = max(1, -(-count // per_page))
    items = []
    if page <= pages:
        start = (page - 1) * per_page
        rows = failed.order_by("pk").values_list("email", "error", "retryable", "attempts",
                                                 "finished_at")[start:start + per_page]
        items = [{"email": email, "reason": error, "retryable": retryable,
                  "attempts": attempts, "failed_at": iso(finished_at)}
                 for email, error, retryable, attempts, finished_at in rows]
    return {"failed": items, "count": count, "page": page, "per_page": per_page,
            "pages": pages}
