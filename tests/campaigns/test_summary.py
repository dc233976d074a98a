"""The owner's summary email, as the real SMTP sink receives it: numbers as people write them,
start and end times with the zone named, a link to the dashboard, the real connection count
(or no line at all)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from campaigns.services import campaign_start
from jobs.models import Job
from jobs.services import jobs_interrupt_stale
from tests.campaigns.factories import job_ended, make_agreement, make_audience
from tests.factories import make_user

OWNER = "summary-owner@example.test"
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"


def _summary(sink, owner_email: str = OWNER):
    [summary] = [m for m in sink.parsed() if m["To"] == owner_email]
    # As the wire carried it, CRLF line ends: compared here as lines.
    return summary, summary.get_body(("plain",)).get_content().replace("\r\n", "\n")


@pytest.mark.django_db(transaction=True)
def test_a_campaign_of_1001_reads_1_001_with_times_link_and_connections(sink_factory,
                                                                         smtp_settings):
    sink = sink_factory()
    owner, agreement, _addresses = make_audience(1001, owner_email=OWNER, prefix="sum")
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(1002, timeout=30)
    assert job.status == "succeeded", job.error
    assert job.message == "1,001 sent, 0 failed"  # the card's line, as the card writes numbers
    summary, body = _summary(sink)
    assert summary["Subject"].startswith("Campaign succeeded: 1,001 sent, 0 failed")
    assert "Recipients:     1,001\nSent:           1,001\n" in body
    assert re.search(rf"^Started:        {STAMP} UTC$", body, re.M), body
    assert re.search(rf"^Ended:          {STAMP} UTC$", body, re.M), body
    assert f"SMTP connections opened: {job.result['connections']}\n" in body
    assert f"On the dashboard: http://127.0.0.1:8000/#job-{job.pk}" in body
    assert "/api/" not in body and "n/a" not in body


@pytest.mark.django_db
def test_a_stale_campaign_names_the_site_zone_and_leaves_connections_out(
        sink_factory, smtp_settings, settings):
    """Its server died: nobody knows how many connections it opened, so the line is left
    out; the times are on the site's clock, the zone named (DJANGO_TIME_ZONE)."""
    settings.TIME_ZONE = "Europe/Paris"
    settings.SITE_URL = "https://jobs.example.com"
    sink = sink_factory()
    owner = make_user(staff=True, email=OWNER)
    job = campaign_start(owner_id=owner.pk, agreement_id=make_agreement().pk)
    started = timezone.now() - timedelta(hours=2)
    Job.objects.filter(pk=job.pk).update(status="running", started_at=started,
                                         heartbeat_at=started)
    with smtp_settings(sink):
        assert [j.pk for j in jobs_interrupt_stale(stale_before=timezone.now())] == [job.pk]
        assert sink.wait_for(1, timeout=10)
    _summary_mail, body = _summary(sink)
    local = timezone.localtime(started, timezone.get_default_timezone())
    assert f"Started:        {local:%Y-%m-%d %H:%M:%S} CET (Europe/Paris)\n" in body, body
    assert re.search(rf"^Ended:          {STAMP} CET \(Europe/Paris\)$", body, re.M), body
    assert "SMTP connections" not in body
    assert f"On the dashboard: https://jobs.example.com/#job-{job.pk}" in body
