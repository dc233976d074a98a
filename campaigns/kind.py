"""The campaign job kind as the shared job machinery sees it: run, end, resume, shell."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.conf import settings

from campaigns.jobs import run_campaign
from campaigns.permissions import REFUSAL, job_permitted, may_send_reminders
from campaigns.selectors import agreement_resolve
from campaigns.services import (
    KIND,
    CampaignAlreadyRunning,
    RecentlyReminded,
    campaign_resume,
    campaign_start,
)
from campaigns.summary import campaign_summary_send, summary_counts
from jobs.kinds import CommandLine, JobKind, StartRefused
from jobs.models import Job


def campaign_ended(job: Job, notes: dict[str, Any]) -> None:
    """Every ending mails the owner the summary, once (two servers may both notice an end)."""
    skipped = notes.get("skipped_recent", (job.result or {}).get("skipped_recent"))
    campaign_summary_send(job_id=job.pk, extra={"connections": notes.get("connections"),
                                                "throttled": notes.get("throttled"),
                                                "skipped_recent": skipped,
                                                "resend_after_hours": resend_hours()})


def resend_hours() -> str:
    return f"{settings.CAMPAIGN_RESEND_AFTER / 3600:g}"


def campaign_counts(job: Job) -> dict[str, int]:
    """Sent and failed from the recipient rows: what the summary email says, too."""
    counts = summary_counts(job_id=job.pk)
    return {"done": counts["sent"], "failed": counts["failed"]}


def _arguments(parser: ArgumentParser) -> None:
    parser.add_argument("agreement", nargs="?", default="",
                        help="the agreement's id or slug: remind everyone who has not accepted it")
    parser.add_argument("--include-recent", action="store_true",
                        help="also remind users reminded of this version within "
                             "CAMPAIGN_RESEND_AFTER (left out by default)")


def _start(owner: Any, options: dict[str, Any]) -> Job:
    if not may_send_reminders(owner):
        raise StartRefused(f"{owner.get_username()}: {REFUSAL}")
    agreement = agreement_resolve(options["agreement"])
    if agreement is None:
        raise StartRefused(f"No agreement {options['agreement']!r} (give its id or slug).")
    try:
        return campaign_start(owner_id=owner.pk, agreement_id=agreement.pk,
                              include_recent=options.get("include_recent", False))
    except CampaignAlreadyRunning as exc:
        raise StartRefused(str(exc)) from None
    except RecentlyReminded as exc:
        raise StartRefused(f"{exc} (--include-recent)") from None


CAMPAIGN = JobKind(
    name=KIND,
    run=run_campaign,
    on_end=campaign_ended,
    resume=campaign_resume,
    command=CommandLine(help="email a reminder to every user who has not accepted an agreement",
                        add_arguments=_arguments, start=_start),
    permitted=job_permitted,
    counts=campaign_counts,
    resume_hint="resume it from the dashboard: its Resume button sends the reminders not sent "
                "yet, and nobody recorded as sent gets one again",
)
