"""Sending at a relay's pace: CAMPAIGN_MAX_RATE, and 4xx "try later" answers waited out."""

from __future__ import annotations

import time

import pytest

import campaigns.jobs
from campaigns.dispatch import Dispatcher
from campaigns.models import Recipient
from campaigns.services import campaign_start
from jobs.services import job_cancel
from tests.campaigns.factories import job_ended, make_audience

pytestmark = pytest.mark.django_db(transaction=True)

OWNER = "owner@example.test"


@pytest.fixture
def dispatchers(monkeypatch):
    """The Dispatcher of every campaign run in this test, to read its stats afterwards."""
    made: list[Dispatcher] = []

    class Recorded(Dispatcher):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            made.append(self)

    monkeypatch.setattr(campaigns.jobs, "Dispatcher", Recorded)
    return made


def _busiest(times: list[float], window: float) -> int:
    """The most messages received within any `window` seconds."""
    return max(sum(1 for t in times[i:] if t - start < window) for i, start in enumerate(times))


def test_an_unused_slot_is_not_saved_up():
    """After a pause the next sends are still 1 / rate apart: a connection that was idle does
    not earn a burst. Lower bounds only: a loaded machine makes them later, never earlier."""
    import threading

    from campaigns.dispatch.pace import Pace

    pace = Pace(20.0, threading.Event())
    started = time.monotonic()
    assert all(pace.turn() for _ in range(3))
    assert time.monotonic() - started >= 2 * 0.05 - 0.005  # the 2nd and 3rd waited
    assert pace.turn(delay=0.3)  # idle for 6 slots
    resumed = time.monotonic()
    assert all(pace.turn() for _ in range(3))
    assert time.monotonic() - resumed >= 3 * 0.05 - 0.005  # no slot saved: 3 more waits


@pytest.fixture(autouse=True)
def small_chunks(settings):
    settings.CAMPAIGN_CHUNK_SIZE = 5  # every connection gets work, even with few recipients


def test_the_rate_cap_holds_across_connections_without_bursts(settings, sink_factory,
                                                               smtp_settings, dispatchers):
    settings.CAMPAIGN_MAX_RATE = 20.0
    settings.CAMPAIGN_CONNECTIONS = 4
    sink = sink_factory()
    owner, agreement, addresses = make_audience(41, owner_email=OWNER)
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(42, timeout=20)  # the summary comes after the campaign ended
    assert (job.status, job.done, job.failed) == ("succeeded", 41, 0)
    reminders = sink.handler.received_at[:41]
    rate = 40 / (reminders[-1] - reminders[0])
    # Uncapped, these 41 arrive within a fraction of a second (hundreds per second).
    assert 20 * 0.85 <= rate <= 20 * 1.05, rate
    # Arrival times at the sink (a thread of this process) jitter and bunch on a loaded
    # machine: a second held 23 and 100 ms held 6 with the cap working. So here only no gross
    # burst (uncapped, all 41 land within one second); that no slot is saved up is pinned
    # without a relay by test_an_unused_slot_is_not_saved_up.
    assert _busiest(reminders, 1.0) <= 25, reminders
    assert dispatchers[0].stats.connections == 4  # one cap shared, not one per connection


def test_cancel_does_not_wait_for_the_slots_ahead(settings, sink_factory, smtp_settings):
    # 1 message/s over 4 connections: the senders hold turns up to 3 s ahead.
    settings.CAMPAIGN_MAX_RATE = 1.0
    settings.CAMPAIGN_CONNECTIONS = 4
    sink = sink_factory()
    owner, agreement, _addresses = make_audience(30, owner_email=OWNER)
    with smtp_settings(sink):
        job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
        assert sink.wait_for(1, timeout=20)
        cancelled = time.monotonic()
        job_cancel(job_id=job.pk)
        job = job_ended(job)
        ended = time.monotonic() - cancelled
    assert job.status == "cancelled"
    assert ended < 1.5, ended  # the cancel is read within 0.2 s; the waits end with it
    statuses = set(Recipient.objects.filter(job=job).values_list("status", flat=True))
    assert statuses == {"sent", "pending"}  # nobody left `sending` by a waiting sender
    assert Recipient.objects.filter(job=job, status="sent").count() <= 2


@pytest.mark.parametrize(("at", "reply"), [
    ("RCPT", "451 4.7.1 Rate limited, try later"),
    ("RCPT", "421 4.7.0 Too many messages, closing connection"),
    ("DATA", "450 4.2.1 Slow down"),
])
def test_throttling_answers_are_waited_out_and_counted_not_failed(
        settings, sink_factory, smtp_settings, dispatchers, at, reply):
    settings.CAMPAIGN_THROTTLE_BACKOFF = 0.01
    settings.CAMPAIGN_THROTTLE_RETRIES = 10  # more than the sink's 8: no email can run out
    sink = sink_factory(throttle=8, throttle_reply=reply, throttle_at=at)
    owner, agreement, addresses = make_audience(40, owner_email=OWNER)
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(41, timeout=20)
    assert job.status == "succeeded", job.error
    assert (job.total, job.done, job.failed) == (40, 40, 0)
    received = sink.recipients()
    assert {a: received[a] for a in addresses} == dict.fromkeys(addresses, 1)
    assert len(sink.handler.throttled) == 8
    [dispatcher] = dispatchers
    assert dispatcher.stats.throttled == 8 == job.result["throttled"]
    [summary] = [m for m in sink.parsed() if m["To"] == OWNER]
    assert "waited out and sent again): 8" in summary.get_body(("plain",)).get_content()
    assert dispatcher.stats.reconnects == 0  # a 421 is an answer, not a lost connection
    rows = Recipient.objects.filter(job=job)
    assert sum(rows.values_list("attempts", flat=True)) == 40 + 8
    assert not rows.filter(maybe_duplicate=True).exists()  # refused: never delivered twice
    if reply.startswith("421"):  # each one closed its session: opened again after the wait
        assert dispatcher.stats.connections >= settings.CAMPAIGN_CONNECTIONS + 8


def test_a_busy_greeting_is_a_throttle_not_an_unreachable_server(
        settings, sink_factory, smtp_settings, dispatchers):
    settings.CAMPAIGN_THROTTLE_BACKOFF = 0.01
    settings.CAMPAIGN_THROTTLE_RETRIES = 10
    # More 421 greetings than CAMPAIGN_MAX_CONNECT_FAILURES in a row: not a reason to stop.
    busy = settings.CAMPAIGN_MAX_CONNECT_FAILURES + 3
    sink = sink_factory()
    sink.handler.busy_greetings = busy
    owner, agreement, addresses = make_audience(20, owner_email=OWNER)
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
        assert sink.wait_for(21, timeout=20)
    assert (job.status, job.done, job.failed) == ("succeeded", 20, 0), job.error
    assert set(sink.recipients()) >= set(addresses)
    assert dispatchers[0].stats.throttled == busy


def test_an_email_still_throttled_after_every_wait_fails_retryable(
        settings, sink_factory, smtp_settings, dispatchers):
    settings.CAMPAIGN_THROTTLE_BACKOFF = 0.01
    settings.CAMPAIGN_THROTTLE_RETRIES = 2
    settings.CAMPAIGN_CONNECTIONS = 1
    sink = sink_factory(throttle=1000)
    owner, agreement, addresses = make_audience(3, owner_email=OWNER)
    with smtp_settings(sink):
        job = job_ended(campaign_start(owner_id=owner.pk, agreement_id=agreement.pk))
    assert (job.status, job.done, job.failed) == ("succeeded", 0, 3)
    rows = list(Recipient.objects.filter(job=job))
    assert {(r.status, r.retryable, r.attempts) for r in rows} == {("failed", True, 3)}
    assert all(r.error.startswith("451 4.7.1") and "after 2 waits" in r.error for r in rows)
    assert dispatchers[0].stats.throttled == 9
    assert not set(addresses) & set(sink.recipients())


def test_cancel_during_a_back_off_gives_the_email_back(settings, sink_factory, smtp_settings):
    settings.CAMPAIGN_THROTTLE_BACKOFF = 30.0
    sink = sink_factory(throttle=1000)
    owner, agreement, _addresses = make_audience(20, owner_email=OWNER)
    with smtp_settings(sink):
        job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
        assert sink.wait_throttled(settings.CAMPAIGN_CONNECTIONS, timeout=20)
        cancelled = time.monotonic()
        job_cancel(job_id=job.pk)
        job = job_ended(job)
        ended = time.monotonic() - cancelled
    assert job.status == "cancelled"
    assert ended < 2, ended  # not the 30 s back-off
    # Refused, so not sent: back to pending, for a resume, not flagged.
    assert set(Recipient.objects.filter(job=job).values_list("status", "maybe_duplicate")) == {
        ("pending", False)}
