"""The campaign job against a real SMTP server (aiosmtpd), run by the real runner thread."""

from __future__ import annotations

import csv
import io

import pytest
from post_office.models import STATUS, Email, Log

from campaigns.models import Campaign, Recipient
from campaigns.services import campaign_start
from jobs.models import Job
from jobs.services import job_cancel, job_interrupt, job_resume
from tests.campaigns.factories import job_ended, make_audience

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = "owner@example.test"


def _summaries(sink):
    return [m for m in sink.parsed() if m["To"] == OWNER]


def test_500_recipients_each_delivered_exactly_once(sink_factory, smtp_settings):
    sink = sink_factory()
    owner, agreement, addresses = make_audience(500, owner_email=OWNER)
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(501, timeout=10)  # 500 reminders + the summary
    assert job.status == "succeeded", job.error
    assert (job.total, job.done, job.failed) == (500, 500, 0)
    received = sink.recipients()
    assert {a: received[a] for a in addresses} == dict.fromkeys(addresses, 1)
    assert received[OWNER] == 1 and sum(received.values()) == 501
    # Connections reused: a handful, not one per email.
    assert job.result["connections"] <= 8, job.result
    assert sink.handler.connections <= 9
    assert set(Recipient.objects.filter(job=job).values_list("status", flat=True)) == {"sent"}
    mail_ids = Recipient.objects.filter(job=job).values_list("mail_id", flat=True)
    assert Email.objects.filter(pk__in=mail_ids, status=STATUS.sent).count() == 500
    assert Log.objects.filter(email_id__in=mail_ids, status=STATUS.sent).count() == 500
    reminder = next(m for m in sink.parsed() if m["To"] == addresses[0])
    assert reminder.get_content_type() == "multipart/alternative"
    text = reminder.get_body(("plain",)).get_content()
    html = reminder.get_body(("html",)).get_content()
    assert "http://127.0.0.1:8000/agreements/accept/" in text and "accept/" in html
    summary = _summaries(sink)[0]
    assert "succeeded" in summary["Subject"] and "500 sent, 0 failed" in summary["Subject"]


def test_refusals_and_a_dropped_connection_are_recorded_per_recipient(sink_factory,
                                                                       smtp_settings):
    owner, agreement, addresses = make_audience(300, owner_email=OWNER)
    refused = set(addresses[10:260:10])  # 25 addresses, spread over the run
    dropped = addresses[151]
    sink = sink_factory(refuse=refused, drop_once={dropped})
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(300 - 25 + 1, timeout=10)
    assert job.status == "succeeded", job.error
    assert (job.total, job.done, job.failed) == (300, 275, 25)
    received = sink.recipients()
    delivered = set(addresses) - refused
    assert {a: received[a] for a in delivered} == dict.fromkeys(delivered, 1)
    assert not refused & set(received)
    assert sink.handler.dropped == [dropped]
    assert job.result["reconnects"] >= 1

    failed = {r.email: r for r in Recipient.objects.filter(job=job, status="failed")}
    assert set(failed) == refused
    assert all(r.error.startswith("550") and not r.retryable for r in failed.values())
    retried = Recipient.objects.get(job=job, email=dropped)
    assert (retried.status, retried.attempts, retried.maybe_duplicate) == ("sent", 2, True)
    assert Log.objects.filter(email_id__in=[r.mail_id for r in failed.values()],
                              status=STATUS.failed).count() == 25

    [summary] = _summaries(sink)
    assert "275 sent, 25 failed" in summary["Subject"]
    [attachment] = list(summary.iter_attachments())
    text = attachment.get_content()  # text/csv: a str, with the BOM Excel reads UTF-8 by
    assert text.startswith("\ufeffemail,reason,")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert {row["email"] for row in rows} == refused
    body = summary.get_body(("plain",)).get_content()
    listed = {line.split(":")[0].strip() for line in body.splitlines() if "@" in line
              and "550" in line}
    assert len(listed) == 20 and listed <= refused
    assert Campaign.objects.get(pk=job.pk).summary_sent_at is not None


def test_resume_after_an_interrupted_run_sends_only_the_rest(sink_factory, smtp_settings):
    owner, agreement, addresses = make_audience(300, owner_email=OWNER)
    # 20 ms per DATA over 4 connections: the 240 left after the first 60 take >= 1.2 s, well
    # beyond the interrupt's reach (one status read per 0.2 s) even on a loaded machine.
    sink = sink_factory(delay=0.02)
    with smtp_settings(sink):
        first = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
        assert sink.wait_for(60, timeout=20)
        # What the stale-job sweeper does when a server stops beating.
        assert job_interrupt(job_id=first.pk, reason="test: server gone") is not None
        first = job_ended(first)
        assert first.status == "interrupted"
        sent_first = set(Recipient.objects.filter(job=first, status="sent")
                         .values_list("email", flat=True))
        assert 60 <= len(sent_first) < 300
        assert not Recipient.objects.filter(job=first, status="sending").exists()
        # Rows a dead process left `sending` (the sink never got them here).
        died = list(Recipient.objects.filter(job=first, status="pending")
                    .order_by("pk")[:2].values_list("pk", flat=True))
        Recipient.objects.filter(pk__in=died).update(status="sending")

        second = job_ended(job_resume(job_id=first.pk, user_id=owner.pk))
        assert sink.wait_for(300 + 2, timeout=10)  # + two summaries
    assert second.status == "succeeded", second.error
    assert second.resumed_from_id == first.pk
    assert (second.total, second.done, second.failed) == (300 - len(sent_first),) * 2 + (0,)
    received = sink.recipients()
    assert {a: received[a] for a in addresses} == dict.fromkeys(addresses, 1)
    assert received[OWNER] == 2  # the interrupted run's summary, then the resumed one's
    assert Recipient.objects.filter(job=second, maybe_duplicate=True).count() == 2
    assert set(Recipient.objects.filter(job=first).values_list("status", flat=True)) == {
        "sent", "moved"}
    subjects = sorted(m["Subject"] for m in _summaries(sink))
    assert subjects[0].startswith("Campaign interrupted") and "succeeded" in subjects[1]


def test_cancel_stops_between_emails_and_the_owner_is_told(sink_factory, smtp_settings):
    owner, agreement, addresses = make_audience(200, owner_email=OWNER)
    # 25 ms per DATA over 4 connections: the 180 left after the first 20 take >= 1.1 s, so the
    # cancel (seen within one 0.2 s flag read) lands before the end even on a loaded machine.
    sink = sink_factory(delay=0.025)
    with smtp_settings(sink):
        job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
        assert sink.wait_for(20, timeout=20)
        job_cancel(job_id=job.pk)
        job = job_ended(job)
        assert sink.wait_for(job.done + 1, timeout=10)
    assert job.status == "cancelled"
    statuses = set(Recipient.objects.filter(job=job).values_list("status", flat=True))
    assert statuses == {"sent", "pending"}  # nothing left mid-send
    sent = Recipient.objects.filter(job=job, status="sent").count()
    assert 20 <= sent < 200 and job.done == sent
    received = sink.recipients()
    assert sum(received[a] for a in addresses) == sent
    [summary] = _summaries(sink)
    assert summary["Subject"].startswith(f"Campaign cancelled: {sent} sent, 0 failed")
    assert Job.objects.get(pk=job.pk).resumable  # not resumed yet: the card offers it
