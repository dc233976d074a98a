"""POST /api/campaigns/ and GET /api/campaigns/agreements/: codes and shapes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from campaigns.models import Acceptance, Campaign
from jobs.models import Job
from tests.campaigns.factories import make_agreement, make_users
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


def test_start_by_slug_or_id_form_or_json_answers_202_with_the_job():
    staff = make_user(staff=True)
    first, second = make_agreement(slug="terms"), make_agreement(slug="privacy")
    response = _client(staff).post("/api/campaigns/", {"agreement": "terms"})
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "campaign" and job["status"] == "queued"
    assert Campaign.objects.get(pk=job["id"]).agreement_id == first.pk
    response = _client(staff).post("/api/campaigns/", {"agreement": second.pk},
                                   content_type="application/json")
    assert response.status_code == 202, response.content
    assert Campaign.objects.get(pk=response.json()["job"]["id"]).agreement_id == second.pk


@pytest.mark.parametrize("body", [{"agreement": "nope"}, {"agreement": 999999}, {},
                                  {"agreement": ["terms"]}, {"agreement": None}])
def test_unknown_agreement_is_400(body):
    make_agreement(slug="terms")
    response = _client(make_user(staff=True)).post("/api/campaigns/", body,
                                                   content_type="application/json")
    assert response.status_code == 400
    assert "agreement" in response.json()["error"] and "terms" in response.json()["choices"]
    assert not Job.objects.exists()


def test_malformed_json_is_400():
    response = _client(make_user(staff=True)).post(
        "/api/campaigns/", "{not json", content_type="application/json")
    assert response.status_code == 400 and "JSON" in response.json()["error"]


def test_non_staff_403_anonymous_401():
    make_agreement(slug="terms")
    assert _client(make_user(staff=False)).post(
        "/api/campaigns/", {"agreement": "terms"}).status_code == 403
    assert _client().post("/api/campaigns/", {"agreement": "terms"}).status_code == 401
    assert _client().get("/api/campaigns/agreements/").status_code == 401
    assert _client(make_user(staff=False)).get("/api/campaigns/agreements/").status_code == 403
    assert not Job.objects.exists()


def test_second_campaign_for_the_same_agreement_is_409_while_the_first_is_active():
    staff = make_user(staff=True)
    make_agreement(slug="terms")
    other = make_agreement(slug="privacy")
    client = _client(staff)
    # In this test's transaction the job stays queued (the runner starts it on commit).
    assert client.post("/api/campaigns/", {"agreement": "terms"}).status_code == 202
    response = client.post("/api/campaigns/", {"agreement": "terms"})
    assert response.status_code == 409
    assert response.json()["error"] == "Only one running campaign per agreement."
    assert client.post("/api/campaigns/", {"agreement": other.slug}).status_code == 202
    Job.objects.update(status="succeeded")
    assert client.post("/api/campaigns/", {"agreement": "terms"}).status_code == 202


def test_agreement_list_counts_the_unsigned():
    staff = make_user(staff=True, email="")  # no email: never a recipient
    agreement = make_agreement(slug="terms")
    make_users(5)
    make_user(staff=False, active=False)
    accepted = make_user(staff=False)
    Acceptance.objects.create(user=accepted, agreement=agreement)
    body = _client(staff).get("/api/campaigns/agreements/").json()
    assert body == {"agreements": [{"id": agreement.pk, "slug": "terms",
                                    "title": "Terms & Conditions", "version": 1,
                                    "unsigned": 5, "reminded_recently": 0,
                                    "last_campaign": None}]}


def test_a_campaign_that_ended_without_its_thread_gets_its_summary_once(mailoutbox):
    """Its server died: the stale sweep of another one interrupts it and runs the end hook."""
    from campaigns.services import campaign_start
    from jobs import kinds
    from jobs.services import jobs_interrupt_stale

    owner = make_user(staff=True, email="boss@example.test")
    agreement = make_agreement(slug="terms")
    job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
    cutoff = timezone.now() - timedelta(seconds=60)
    assert jobs_interrupt_stale(stale_before=cutoff) == []  # still beating: nothing to say yet
    assert mailoutbox == []
    Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    assert [j.pk for j in jobs_interrupt_stale(stale_before=cutoff)] == [job.pk]
    assert jobs_interrupt_stale(stale_before=cutoff) == []
    kinds.ended(Job.objects.get(pk=job.pk))  # a second server noticing too: no second mail
    [summary] = mailoutbox
    assert summary.to == ["boss@example.test"]
    assert summary.subject.startswith("Campaign interrupted: 0 sent, 0 failed")
    assert "stopped responding" in summary.body
    assert Campaign.objects.get(pk=job.pk).summary_mail.status == 0  # post-office: sent
