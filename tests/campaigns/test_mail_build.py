"""Reminders built as post-office builds them; line breaks in a title cost no email."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from post_office.models import Email
from post_office.utils import create_attachments

from campaigns.dispatch import Dispatcher
from campaigns.dispatch.render import one_line
from campaigns.models import Recipient
from campaigns.services import campaign_start, recipients_snapshot
from tests.campaigns.factories import job_ended, make_audience

OWNER = "owner@example.test"
STAGING = ["staging@example.test", "qa@example.test"]


def _override(settings, recipients):
    settings.POST_OFFICE = {**settings.POST_OFFICE, "OVERRIDE_RECIPIENTS": recipients}


def _built(job_id) -> dict[int, object]:
    """mail_id -> the message the dispatcher builds (in its feeding thread) for it."""
    dispatcher = Dispatcher(job_id=job_id, workers=1, chunk_size=100,
                            on_outcomes=lambda _batch: None, check=lambda: None)
    return {item.mail_id: msg for item, msg in dispatcher._next_chunk(0)}


def _wire(msg) -> dict:
    """Everything a relay would see, but the Date and the random MIME boundary."""
    # Django 6.1's message is the stdlib's EmailMessage (no `linesep`); 5.2's takes it.
    raw = msg.message()
    try:
        data = raw.as_bytes(linesep="\r\n")
    except TypeError:
        data = raw.as_bytes(policy=raw.policy.clone(linesep="\r\n"))
    parsed = message_from_bytes(data, policy=policy.default)
    return {
        "envelope": (msg.from_email, msg.recipients()),
        "headers": [(k, str(v)) for k, v in parsed.items() if k not in ("Date", "Content-Type")],
        "type": parsed.get_content_type(),
        "parts": [(part.get_content_type(), part.get_filename(), part.get_content())
                  for part in parsed.walk() if not part.is_multipart()],
    }


@pytest.mark.django_db
@pytest.mark.parametrize("override", [None, STAGING])
def test_reminder_is_what_post_office_prepares_for_the_same_row(settings, override):
    if override:
        _override(settings, override)
    owner, agreement, addresses = make_audience(3, owner_email=OWNER)
    job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)  # never run: no commit
    recipients_snapshot(job_id=job.pk)
    ours = _built(job.pk)
    assert len(ours) == 3
    for mail_id, msg in ours.items():
        theirs = Email.objects.get(pk=mail_id).prepare_email_message()
        assert msg.to == theirs.to and msg.cc == theirs.cc and msg.bcc == theirs.bcc
        assert msg.subject == theirs.subject
        assert msg.extra_headers == theirs.extra_headers
        assert msg.body == theirs.body and msg.alternatives == theirs.alternatives
        assert _wire(msg) == _wire(theirs)
    reminded = {tuple(m.to) for m in ours.values()}
    assert reminded == ({tuple(override)} if override else {(a,) for a in addresses})
    first = next(iter(ours.values()))
    assert first.extra_headers["Message-ID"].startswith("<")
    assert "http://127.0.0.1:8000/agreements/accept/" in first.body


@pytest.mark.django_db
def test_row_headers_expiry_copies_and_attachments_are_post_offices_too(settings):
    owner, agreement, _addresses = make_audience(1, owner_email=OWNER)
    job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
    recipients_snapshot(job_id=job.pk)
    mail = Email.objects.get(pk=Recipient.objects.get(job=job).mail_id)
    Email.objects.filter(pk=mail.pk).update(
        headers={"List-Unsubscribe": "<mailto:unsubscribe@example.test>"},
        expires_at=timezone.now() + timedelta(days=2), cc=["cc@example.test"],
        bcc=["audit@example.test"])
    mail.attachments.add(*create_attachments({
        "terms.txt": {"file": ContentFile(b"1. Be nice."), "mimetype": "text/plain"},
        "notice.txt": {"file": ContentFile(b"Read me."), "mimetype": "text/plain",
                       "headers": {"Content-Disposition": "inline"}},
    }))
    [(mail_id, msg)] = _built(job.pk).items()
    theirs = Email.objects.get(pk=mail_id).prepare_email_message()
    assert _wire(msg) == _wire(theirs)
    wire = _wire(msg)
    assert ("List-Unsubscribe", "<mailto:unsubscribe@example.test>") in wire["headers"]
    assert any(k == "Expires" for k, _v in wire["headers"])
    assert "audit@example.test" in msg.recipients()
    assert {name for _t, name, _c in wire["parts"]} >= {"terms.txt"}
    assert [c for _t, _n, c in wire["parts"]].count("Read me.") == 1


@pytest.mark.django_db(transaction=True)
def test_override_recipients_keep_a_campaign_away_from_real_users(settings, sink_factory,
                                                                   smtp_settings):
    """Staging: post-office's OVERRIDE_RECIPIENTS gets every reminder, no user one."""
    _override(settings, ["staging@example.test"])
    sink = sink_factory()
    owner, agreement, addresses = make_audience(5, owner_email=OWNER)
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(6, timeout=10)  # 5 reminders + the summary, all to staging
    assert job.status == "succeeded", job.error
    assert (job.done, job.failed) == (5, 0)
    received = sink.recipients()
    assert not set(addresses) & set(received)
    assert received == {"staging@example.test": 6}


@pytest.mark.django_db(transaction=True)
def test_a_title_with_a_line_break_costs_neither_reminders_nor_the_summary(sink_factory,
                                                                           smtp_settings):
    sink = sink_factory()
    owner, agreement, addresses = make_audience(3, owner_email=OWNER)
    agreement.title = "Terms &\r\nConditions"
    agreement.save()
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(4, timeout=10)
    assert (job.status, job.done, job.failed) == ("succeeded", 3, 0)
    by_to = {m["To"]: m for m in sink.parsed()}
    assert set(by_to) == {*addresses, OWNER}
    assert by_to[addresses[0]]["Subject"] == "Please accept our Terms & Conditions (version 1)"
    assert by_to[OWNER]["Subject"] == "Campaign succeeded: 3 sent, 0 failed (Terms & Conditions)"


def test_one_line_folds_line_breaks_and_leaves_other_subjects_as_typed():
    assert one_line("Terms &\r\n  Conditions\n") == "Terms & Conditions"
    assert one_line("As  typed ") == "As  typed "  # post-office's subject, unchanged
