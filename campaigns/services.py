"""Writes for agreements and campaigns: start, resume, recipient snapshots, acceptances."""

from __future__ import annotations

from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.template.loader import get_template
from post_office.models import PRIORITY, Email, EmailTemplate
from post_office.settings import get_message_id_fqdn

from campaigns.links import acceptance_url
from campaigns.models import Acceptance, Agreement, Campaign, Recipient, RecipientStatus
from campaigns.selectors import (
    campaign_active_for,
    campaign_audience,
    resend_cutoff,
    users_unsigned,
    users_unsigned_split,
)
from jobs.models import Job
from jobs.numbers import fmt_number
from jobs.services import JobNotResumable, job_start

KIND = "campaign"
REMINDER_TEMPLATE = "campaign_reminder"
SNAPSHOT_BATCH = 500


class CampaignAlreadyRunning(Exception):
    """Only one running campaign per agreement."""


class RecentlyReminded(Exception):
    """Every user a new campaign would mail was reminded within CAMPAIGN_RESEND_AFTER; the
    starter has to ask to include them. `audience` is `campaign_audience`'s answer."""

    def __init__(self, message: str, audience: dict[str, Any]) -> None:
        super().__init__(message)
        self.audience = audience


def _ago(seconds: float) -> str:
    if seconds >= 2 * 3600:
        return f"{seconds / 3600:.0f} hours"
    if seconds >= 120:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds:.0f} seconds"


def reminder_template_ensure() -> EmailTemplate:
    """The post-office EmailTemplate of reminders, seeded from templates/campaigns/email/."""
    template = EmailTemplate.objects.filter(
        name=REMINDER_TEMPLATE, language="", default_template=None
    ).first()
    if template is not None:
        return template

    def source(name: str) -> str:
        return get_template(f"campaigns/email/{name}").template.source

    try:
        with transaction.atomic():
            return EmailTemplate.objects.create(
                name=REMINDER_TEMPLATE,
                description="Reminder to accept an agreement (campaigns). Context: name, link, "
                            "title, version, expires_days.",
                subject=source("reminder_subject.txt").strip(),
                content=source("reminder.txt"),
                html_content=source("reminder.html"),
            )
    except IntegrityError:  # created by a concurrent campaign
        return EmailTemplate.objects.get(name=REMINDER_TEMPLATE, language="",
                                         default_template=None)


def _campaign_job(*, owner_id: int, agreement: Agreement, resumed_from_id: Any = None,
                  include_recent: bool = False) -> Job:
    if campaign_active_for(agreement_id=agreement.pk) is not None:
        raise CampaignAlreadyRunning("Only one running campaign per agreement.")
    title = f"Reminders: {agreement.title} v{agreement.version}"
    if resumed_from_id:
        title += " (resumed)"
    params: dict[str, Any] = {"agreement_id": agreement.pk}
    if include_recent:
        params["include_recent"] = True
    job = job_start(kind=KIND, owner_id=owner_id, title=title, params=params,
                    resumed_from_id=resumed_from_id)
    Campaign.objects.create(job=job, agreement=agreement, agreement_version=agreement.version)
    return job


def campaign_start(*, owner_id: int, agreement_id: int, include_recent: bool = False) -> Job:
    """Queue a reminder campaign for the agreement's unsigned users.

    Users reminded of this agreement version within CAMPAIGN_RESEND_AFTER are left out unless
    `include_recent`; when that leaves nobody, RecentlyReminded says so instead of starting a
    campaign that sends nothing. CampaignAlreadyRunning when one is queued or running. The
    returned job carries `audience` (`campaign_selectors.campaign_audience`) for the answer.
    """
    with transaction.atomic():
        # The row lock serializes two concurrent starts for one agreement (PostgreSQL);
        # SQLite's IMMEDIATE transactions serialize them anyway.
        agreement = Agreement.objects.select_for_update().get(pk=agreement_id)
        audience = campaign_audience(agreement=agreement, include_recent=include_recent)
        if audience["recipients"] == 0 and audience["skipped_recent"]:
            last = audience["last_campaign"]
            hours = settings.CAMPAIGN_RESEND_AFTER / 3600
            raise RecentlyReminded(
                f"All {fmt_number(audience['skipped_recent'])} users who have not accepted "
                f"{agreement.title} were reminded in the last {hours:g} hours"
                + (f" (the last campaign started {_ago(last['seconds_ago'])} ago)"
                   if last else "")
                + "; start again including them to remind them once more.", audience)
        job = _campaign_job(owner_id=owner_id, agreement=agreement,
                            include_recent=include_recent)
    job.audience = audience
    return job


def campaign_resume(old_job: Job, user_id: int) -> Job:
    """Resume hook: a new job that sends to the old job's recipients not sent yet."""
    campaign = Campaign.objects.filter(pk=old_job.pk).first()
    if campaign is None:
        raise JobNotResumable("This campaign has no recipients to resume.")
    agreement = Agreement.objects.select_for_update().get(pk=campaign.agreement_id)
    try:
        return _campaign_job(owner_id=user_id, agreement=agreement, resumed_from_id=old_job.pk)
    except CampaignAlreadyRunning as exc:
        raise JobNotResumable(str(exc)) from None


def recipients_snapshot(*, job_id: Any) -> dict[str, int]:
    """Freeze who gets a reminder: one Recipient and one post-office Email per unsigned user,
    but those reminded of this version within CAMPAIGN_RESEND_AFTER unless the job's starter
    included them. Returns {"recipients", "skipped_recent"}.

    One transaction: either the whole list exists or none of it.
    """
    campaign = Campaign.objects.select_related("agreement", "job").get(pk=job_id)
    agreement = campaign.agreement
    template = reminder_template_ensure()
    fqdn = get_message_id_fqdn()
    sender = settings.DEFAULT_FROM_EMAIL
    expires_days = link_expires_days()
    if campaign.job.params.get("include_recent"):
        audience, skipped = users_unsigned(agreement_id=agreement.pk), 0
    else:
        audience, recent = users_unsigned_split(
            agreement_id=agreement.pk, version=campaign.agreement_version,
            since=resend_cutoff())
        skipped = recent.count()
    users = audience.order_by("pk").values_list("pk", "email", "first_name", "username")
    count = 0
    with transaction.atomic():
        batch: list[tuple[int, str, str, str]] = []
        for row in users.iterator(chunk_size=2000):
            batch.append(row)
            if len(batch) >= SNAPSHOT_BATCH:
                count += _snapshot_batch(job_id, agreement, campaign.agreement_version, template,
                                         sender, fqdn, expires_days, batch)
                batch = []
        if batch:
            count += _snapshot_batch(job_id, agreement, campaign.agreement_version, template,
                                     sender, fqdn, expires_days, batch)
    return {"recipients": count, "skipped_recent": skipped}


def link_expires_days() -> int:
    """How many days a reminder's link is valid, as the reminder says (CAMPAIGN_LINK_MAX_AGE)."""
    return max(1, round(settings.CAMPAIGN_LINK_MAX_AGE / 86400))


def reminder_context(*, name: str, link_user_id: int, agreement: Agreement, version: int,
                     expires_days: int) -> dict[str, Any]:
    """The reminder template's context: every reminder, preview and test is rendered from it."""
    return {
        "name": name,
        "link": acceptance_url(user_id=link_user_id, agreement_id=agreement.pk,
                               version=version),
        "title": agreement.title, "version": version, "expires_days": expires_days,
    }


def _snapshot_batch(job_id: Any, agreement: Agreement, version: int, template: EmailTemplate,
                    sender: str, fqdn: str, expires_days: int,
                    users: list[tuple[int, str, str, str]]) -> int:
    emails = [
        Email(
            from_email=sender, to=[address], template=template,
            context=reminder_context(name=first_name or username, link_user_id=user_id,
                                     agreement=agreement, version=version,
                                     expires_days=expires_days),
            # status None: post-office's send_queued never picks these up
            # (docs/architecture.md, trap 7).
            status=None, priority=PRIORITY.now, message_id=make_msgid(domain=fqdn),
        )
        for user_id, address, first_name, username in users
    ]
    Email.objects.bulk_create(emails)
    Recipient.objects.bulk_create([
        Recipient(job_id=job_id, user_id=user_id, email=address, mail_id=email.pk)
        for (user_id, address, _f, _u), email in zip(users, emails, strict=True)
    ])
    return len(emails)


def recipients_carry_over(*, job_id: Any, from_job_id: Any) -> dict[str, int]:
    """Give a resumed job the old job's recipients not sent yet, in one transaction.

    Carried: `pending`; `sending` (the process died mid-send: may have been delivered, sent
    again and flagged `maybe_duplicate`); `failed` with a temporary reason (4xx, connection).
    Not carried: `sent`, permanent refusals (5xx), users who accepted in the meantime.
    The old job's pending/sending rows become `moved`, so a straggling sender of the old
    job can no longer claim them.
    """
    campaign = Campaign.objects.get(pk=job_id)
    accepted = set(Acceptance.objects.filter(agreement_id=campaign.agreement_id)
                   .values_list("user_id", flat=True))
    with transaction.atomic():
        old = list(
            Recipient.objects.select_for_update()
            .filter(job_id=from_job_id)
            .filter(status__in=[RecipientStatus.PENDING, RecipientStatus.SENDING,
                                RecipientStatus.FAILED])
            .order_by("pk")
            .values_list("pk", "user_id", "email", "mail_id", "status", "retryable",
                         "maybe_duplicate")
        )
        carried, dropped_accepted, was_sending = [], 0, 0
        for _pk, user_id, address, mail_id, status, retryable, maybe_dup in old:
            if status == RecipientStatus.FAILED and not retryable:
                continue
            if user_id in accepted:
                dropped_accepted += 1
                continue
            if status == RecipientStatus.SENDING:
                was_sending += 1
            carried.append(Recipient(
                job_id=job_id, user_id=user_id, email=address, mail_id=mail_id,
                maybe_duplicate=maybe_dup or status == RecipientStatus.SENDING,
            ))
        Recipient.objects.filter(
            job_id=from_job_id, status__in=[RecipientStatus.PENDING, RecipientStatus.SENDING]
        ).update(status=RecipientStatus.MOVED)
        Recipient.objects.bulk_create(carried, batch_size=SNAPSHOT_BATCH)
    return {"carried": len(carried), "was_sending": was_sending,
            "skipped_accepted": dropped_accepted}


def acceptance_record(*, user_id: int, agreement_id: int, version: int
                      ) -> tuple[Acceptance, bool]:
    """Record that a user accepted; (acceptance, created). Idempotent."""
    return Acceptance.objects.get_or_create(
        user_id=user_id, agreement_id=agreement_id, defaults={"version": version}
    )
