"""A server killed mid-campaign (SIGKILL): resume sends only the rest, no address twice."""

from __future__ import annotations

import signal
from datetime import timedelta

from django.utils import timezone

from campaigns.models import Recipient
from jobs.models import Job
from jobs.services import job_resume, jobs_interrupt_stale
from tests.campaigns.conftest import sink_server_env
from tests.campaigns.factories import job_ended, make_audience
from tests.factories import PASSWORD
from tests.live import LiveClient
from tests.services import Daphne

OWNER = "crash-owner@example.test"


def test_resume_after_sigkill_sends_only_the_rest(transactional_db, held_sink, smtp_settings,
                                                   media_root, output_dir, tmp_path):
    owner, _agreement, addresses = make_audience(400, owner_email=OWNER, slug="crash-terms",
                                                 prefix="crash")
    server = Daphne(env=sink_server_env(held_sink, media_root, tmp_path), log_dir=output_dir,
                    name="daphne-campaign-crash").start()
    try:
        client = LiveClient(server.url).login(owner.username, PASSWORD)
        response = client.post("/api/campaigns/", {"agreement": "crash-terms"})
        assert response.status_code == 202, response.text
        job_id = response.json()["job"]["id"]
        client.close()
        # 120 accepted, then every connection (4) waits for the reply to its DATA.
        assert held_sink.wait_held(4, timeout=30)
    finally:
        server.stop(signal.SIGKILL)
    first = Job.objects.get(pk=job_id)
    assert first.status == "running"  # nobody could write anything: the process died
    in_flight = set(Recipient.objects.filter(job=first, status="sending")
                    .values_list("email", flat=True))
    assert len(in_flight) == 4
    assert Recipient.objects.filter(job=first, status="sent").count() == 120
    held_sink.release()

    with smtp_settings(held_sink):
        # What the stale-job sweeper of any surviving server does; its end hook mails the
        # first summary.
        stale_before = timezone.now() + timedelta(seconds=1)
        assert [j.pk for j in jobs_interrupt_stale(stale_before=stale_before)] == [first.pk]
        second = job_ended(job_resume(job_id=first.pk, user_id=owner.pk))
        assert held_sink.wait_for(400 + 2, timeout=10)  # + both summaries
    assert second.status == "succeeded", second.error
    assert (second.total, second.done, second.failed) == (280, 280, 0)
    received = held_sink.recipients()
    assert {a: received[a] for a in addresses} == dict.fromkeys(addresses, 1)
    assert received[OWNER] == 2
    assert set(Recipient.objects.filter(job=second, maybe_duplicate=True)
               .values_list("email", flat=True)) == in_flight
    summaries = [m for m in held_sink.parsed() if m["To"] == OWNER]
    assert summaries[0]["Subject"].startswith("Campaign interrupted: 120 sent, 0 failed")
    # The card and the API say what the summary says, not the last progress write.
    first.refresh_from_db()
    assert (first.status, first.done, first.failed) == ("interrupted", 120, 0)
    assert "Not sent:       280" in summaries[0].get_body(("plain",)).get_content()
