"""The campaign job kind as the shared job machinery sees it: run, end, resume, shell."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from campaigns.jobs import run_campaign
from campaigns.permissions import REFUSAL, job_permitted, may_send_reminders
from campaigns.selectors import agreement_resolve
from campaigns.services import KIND, CampaignAlreadyRunning, campaign_resume, campaign_start
from campaigns.summary import campaign_summary_send
from jobs.kinds import CommandLine, JobKind, StartRefused
from jobs.models import Job


def campaign_ended(job: Job, notes: dict[str, Any]) -> None:
    """Every ending mails the owner the summary, once (two servers may both notice an end)."""
    campaign_summary_send(job_id=job.pk, extra={"connections": notes.get("connections")})


def _arguments(parser: ArgumentParser) -> None:
    parser.add_argument("agreement", nargs="?", default="",
                        help="the agreement's id or slug: remind everyone who has not accepted it")


def _start(owner: Any, options: dict[str, Any]) -> Job:
    if not may_send_reminders(owner):
        raise StartRefused(f"{owner.get_username()}: {REFUSAL}")
    agreement = agreement_resolve(options["agreement"])
    if agreement is None:
        raise StartRefused(f"No agreement {options['agreement']!r} (give its id or slug).")
    try:
        return campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
    except CampaignAlreadyRunning as exc:
        raise StartRefused(str(exc)) from None


CAMPAIGN = JobKind(
    name=KIND,
    run=run_campaign,
    on_end=campaign_ended,
    resume=campaign_resume,
    command=CommandLine(help="email a reminder to every user who has not accepted an agreement",
                        add_arguments=_arguments, start=_start),
    permitted=job_permitted,
)
