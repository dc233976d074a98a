"""Before sending: who a campaign started now would mail, the reminder one of them would get
(rendered by the campaigns' own Renderer, so exactly as it would be sent), and a test of it
mailed to the admin's own address.

The personal link in a preview or a test is the *admin's* link, never the recipient's: the
link is a credential (whoever holds it can accept on that account's behalf), and neither the
dashboard nor the admin's mailbox should hold another person's. It has the same shape, host
and lifetime, and it works: it opens the acceptance page for the admin's own account.
"""

from __future__ import annotations

import math
from datetime import timedelta
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from post_office.models import PRIORITY, STATUS, Email, Log
from post_office.settings import get_log_level, get_message_id_fqdn

from campaigns.dispatch.render import Renderer
from campaigns.dispatch.transport import _describe
from campaigns.dispatch.values import Item
from campaigns.models import Agreement, ReminderTestSend
from campaigns.selectors import (
    campaign_audience,
    resend_cutoff,
    users_unsigned,
    users_unsigned_split,
)
from campaigns.services import link_expires_days, reminder_context, reminder_template_ensure

TEST_WINDOW = 3600  # seconds: CAMPAIGN_TEST_SENDS_PER_HOUR counts over this window


class NoAddress(Exception):
    """The admin's account has no email address to send a test to."""


class TestSendsExhausted(Exception):
    """CAMPAIGN_TEST_SENDS_PER_HOUR reached; `retry_after` seconds until the next is allowed."""

    __test__ = False  # not a pytest test class

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TestSendFailed(Exception):
    """The mail transport did not take the test; the message is its reason."""

    __test__ = False


def _sample_person(agreement: Agreement, fallback: Any) -> Any:
    """The first user a campaign started now would mail (the recently reminded when they
    are the only ones, or included); the admin when nobody is left to remind."""
    fresh, recent = users_unsigned_split(agreement_id=agreement.pk, version=agreement.version,
                                         since=resend_cutoff())
    return (fresh.order_by("pk").first() or recent.order_by("pk").first()
            or fallback)


def _render(*, agreement: Agreement, person: Any, viewer: Any, to_address: str
            ) -> EmailMessage:
    """The reminder `person` would get, addressed to `to_address`, with the viewer's link:
    the Renderer builds an unsaved Email row (pk 0: no attachments), as for a campaign's."""
    template = reminder_template_ensure()
    context = reminder_context(name=person.first_name or person.get_username(),
                               link_user_id=viewer.pk, agreement=agreement,
                               version=agreement.version, expires_days=link_expires_days())
    return Renderer().message(Item(
        recipient_id=0, address=to_address, mail_id=0, template_id=template.pk,
        context=context, message_id=make_msgid(domain=get_message_id_fqdn()),
        from_email=settings.DEFAULT_FROM_EMAIL))


def _message_of(mail: Email) -> EmailMessage:
    """The message the campaigns would send for a saved post-office row."""
    return Renderer().message(Item(
        recipient_id=0, address=mail.to[0], mail_id=mail.pk, template_id=mail.template_id,
        context=mail.context, message_id=mail.message_id, from_email=mail.from_email,
        mail=mail))


def _parts(msg: EmailMessage) -> dict[str, Any]:
    html = next((alt[0] for alt in getattr(msg, "alternatives", ()) if alt[1] == "text/html"),
                None)
    text = msg.body
    if getattr(msg, "content_subtype", "plain") == "html":
        html, text = msg.body, ""
    return {"from": msg.from_email, "to": list(msg.to), "subject": msg.subject,
            "text": text, "html": html}


def audience_preview(*, agreement: Agreement, viewer: Any, include_recent: bool
                     ) -> dict[str, Any]:
    """What "Send reminders" would do now: the audience figures of a start (`recipients`,
    `skipped_recent`, `last_campaign`, `resend_after`), `unsigned`, and `preview`: the
    reminder of one recipient (`recipient` null when nobody is left and it is the viewer's)."""
    audience = campaign_audience(agreement=agreement, include_recent=include_recent)
    person = _sample_person(agreement, viewer)
    msg = _render(agreement=agreement, person=person, viewer=viewer,
                  to_address=person.email or viewer.email)
    recipient = None if person.pk == viewer.pk else {
        "name": person.get_full_name() or person.get_username(), "email": person.email}
    return {
        "agreement": {"id": agreement.pk, "slug": agreement.slug, "title": agreement.title,
                      "version": agreement.version},
        "unsigned": users_unsigned(agreement_id=agreement.pk).count(),
        **{key: audience[key] for key in ("recipients", "skipped_recent", "last_campaign",
                                          "resend_after")},
        "preview": {"recipient": recipient, **_parts(msg)},
    }


def _claim_test_send(*, agreement: Agreement, user: Any) -> tuple[ReminderTestSend, Email,
                                                                  int]:
    """Count this send against the hourly limit and create its post-office row, in one
    transaction; the user's row is locked so two concurrent requests cannot both pass."""
    limit = settings.CAMPAIGN_TEST_SENDS_PER_HOUR
    now = timezone.now()
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        window = ReminderTestSend.objects.filter(
            user_id=user.pk, sent_at__gte=now - timedelta(seconds=TEST_WINDOW))
        used = window.count()
        if used >= limit:
            oldest = window.order_by("sent_at").values_list("sent_at", flat=True).first()
            wait = (oldest + timedelta(seconds=TEST_WINDOW) - now).total_seconds()
            retry_after = max(1, math.ceil(wait))
            raise TestSendsExhausted(
                f"You sent {used} test reminders in the last hour, the most allowed "
                f"(CAMPAIGN_TEST_SENDS_PER_HOUR); the next one is possible in "
                f"{max(1, math.ceil(retry_after / 60))} minutes.", retry_after)
        person = _sample_person(agreement, user)
        template = reminder_template_ensure()
        mail = Email.objects.create(
            from_email=settings.DEFAULT_FROM_EMAIL, to=[user.email], template=template,
            context=reminder_context(name=person.first_name or person.get_username(),
                                     link_user_id=user.pk, agreement=agreement,
                                     version=agreement.version,
                                     expires_days=link_expires_days()),
            # status None and dispatched below, never queued (docs/architecture.md, trap 7).
            status=None, priority=PRIORITY.now,
            message_id=make_msgid(domain=get_message_id_fqdn()))
        sent = ReminderTestSend.objects.create(user_id=user.pk, agreement=agreement,
                                               email=user.email, mail=mail)
    return sent, mail, limit - used - 1


def reminder_test_send(*, agreement: Agreement, user: Any) -> dict[str, Any]:
    """Mail the reminder of the preview to the user's own address, through the campaigns'
    transport (as a reminder goes), with the user's own link. Not a campaign recipient: no
    Recipient row, so it counts neither in any campaign nor as "reminded recently".

    NoAddress, TestSendsExhausted (CAMPAIGN_TEST_SENDS_PER_HOUR; a failed send counts too, so
    a broken relay is not hammered), TestSendFailed with the transport's reason.
    """
    from realtime_site.mail import transport_connection

    if not user.email:
        raise NoAddress("Your account has no email address: add one (Admin → Users) to "
                        "receive a test.")
    sent, mail, left = _claim_test_send(agreement=agreement, user=user)
    msg = _message_of(mail)
    try:
        transport_connection().send_messages([msg])
    except Exception as exc:
        reason = _describe(exc)[0]
        _record(mail, sent, ok=False, reason=reason, exception_type=type(exc).__name__)
        raise TestSendFailed(reason) from None
    _record(mail, sent, ok=True)
    return {"sent_to": user.email, "subject": msg.subject, "tests_left": left,
            "limit": settings.CAMPAIGN_TEST_SENDS_PER_HOUR}


def _record(mail: Email, sent: ReminderTestSend, *, ok: bool, reason: str = "",
            exception_type: str = "") -> None:
    """The post-office row's status and Log (post-office's LOG_LEVEL), as the campaigns'."""
    status = STATUS.sent if ok else STATUS.failed
    Email.objects.filter(pk=mail.pk).update(status=status, last_updated=timezone.now())
    level = get_log_level()
    if level == 2 or (level == 1 and not ok):
        Log.objects.create(email_id=mail.pk, status=status, message=reason,
                           exception_type=exception_type)
    if not ok:
        ReminderTestSend.objects.filter(pk=sent.pk).update(error=reason[:1000])
