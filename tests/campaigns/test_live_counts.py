"""Live agreement counts on a real daphne (each channel layer): an acceptance made through
the personal link over HTTP pushes `agreement.counts` to the sockets of who may send
reminders, with the new figures; a staff member without that right gets none."""

from __future__ import annotations

import uuid

from campaigns.models import Acceptance
from campaigns.selectors import users_unsigned
from tests.campaigns.factories import make_agreement
from tests.campaigns.links import accept_over_http
from tests.factories import PASSWORD, make_user
from tests.live import LiveClient, job_finished


def _counts_of(agreement):
    return lambda m: m["type"] == "agreement.counts" and m["agreement"] == agreement.pk


def test_an_acceptance_over_http_pushes_the_new_counts_to_senders_only(live_server_url):
    sender = make_user(staff=True)
    clerk = make_user(staff=True, roles=("exporter",))
    agreement = make_agreement(slug=f"live-counts-{uuid.uuid4().hex[:6]}", version=3)
    person = make_user(staff=False)
    Acceptance.objects.create(user=sender, agreement=agreement)
    senders, clerks = (LiveClient(live_server_url).login(u.username, PASSWORD)
                       for u in (sender, clerk))
    ws_sender, ws_clerk = senders.websocket(), clerks.websocket()
    try:
        assert ws_sender.recv()["type"] == ws_clerk.recv()["type"] == "jobs.snapshot"
        before = users_unsigned(agreement_id=agreement.pk).count()

        answer = accept_over_http(live_server_url, user_id=person.pk, agreement=agreement)
        assert answer.status_code == 200 and "Thank you" in answer.text
        frame = ws_sender.recv_until(_counts_of(agreement))
        assert frame == {"type": "agreement.counts", "agreement": agreement.pk,
                         "slug": agreement.slug, "version": 3, "unsigned": before - 1,
                         "reminded_recently": 0}

        # The clerk's socket gets its own job's frames after that push, never the counts.
        job = clerks.post("/api/demo-jobs/", {"steps": 1, "delay": 0}).json()["job"]
        ws_clerk.recv_until(job_finished(job["id"]))
        assert not [m for _, m in ws_clerk.received if m["type"] == "agreement.counts"]

        # The link a second time: nothing more to accept.
        again = accept_over_http(live_server_url, user_id=person.pk, agreement=agreement)
        assert again.status_code == 200 and "Already accepted" in again.text
        assert users_unsigned(agreement_id=agreement.pk).count() == before - 1
    finally:
        for closable in (ws_sender, ws_clerk, senders, clerks):
            closable.close()
