"""A campaign after sending: GET /api/campaigns/<id>/, …/failed/ (paged), …/failed.csv, and
the admin's recipient list by campaign. Owner and permission checked, hostile input refused."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from campaigns.models import Campaign, Recipient, RecipientStatus
from jobs.models import Job
from tests.campaigns.factories import make_agreement
from tests.factories import PASSWORD, ROLES, make_user

pytestmark = pytest.mark.django_db


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _campaign(owner, *, failed: int = 0, sent: int = 0, pending: int = 0) -> Job:
    agreement = make_agreement()
    job = Job.objects.create(kind="campaign", title=f"Reminders: {agreement.title} v1",
                             owner=owner, status="succeeded")
    Campaign.objects.create(job=job, agreement=agreement, agreement_version=1)
    rows = [Recipient(job=job, email=f"failed-{n:03d}@example.test",
                      status=RecipientStatus.FAILED, error=f"550 5.1.1 No such user {n}",
                      retryable=n % 2 == 0, attempts=1) for n in range(failed)]
    rows += [Recipient(job=job, email=f"sent-{n}@example.test", status=RecipientStatus.SENT,
                       attempts=1) for n in range(sent)]
    rows += [Recipient(job=job, email=f"pending-{n}@example.test") for n in range(pending)]
    Recipient.objects.bulk_create(rows)
    return job


def test_the_detail_counts_the_recipient_rows():
    owner = make_user(staff=True)
    job = _campaign(owner, failed=3, sent=5, pending=2)
    body = _client(owner).get(f"/api/campaigns/{job.pk}/").json()["campaign"]
    assert body["job_id"] == str(job.pk) and body["status"] == "succeeded"
    assert (body["recipients"], body["sent"], body["failed"], body["not_sent"]) == (10, 5, 3, 2)
    assert body["agreement"]["version"] == 1 and body["agreement"]["slug"].startswith("terms-")


def test_failed_recipients_come_in_pages_oldest_first_with_their_reasons():
    owner = make_user(staff=True)
    job = _campaign(owner, failed=45, sent=3)
    client = _client(owner)
    first = client.get(f"/api/campaigns/{job.pk}/failed/").json()
    assert (first["count"], first["page"], first["per_page"], first["pages"]) == (45, 1, 20, 3)
    assert [item["email"] for item in first["failed"]] == [
        f"failed-{n:03d}@example.test" for n in range(20)]
    assert first["failed"][0] == {**first["failed"][0], "reason": "550 5.1.1 No such user 0",
                                  "retryable": True, "attempts": 1}
    last = client.get(f"/api/campaigns/{job.pk}/failed/?page=3").json()
    assert [item["email"] for item in last["failed"]] == [
        f"failed-{n:03d}@example.test" for n in range(40, 45)]
    big = client.get(f"/api/campaigns/{job.pk}/failed/?per_page=100").json()
    assert len(big["failed"]) == 45 and big["pages"] == 1
    past = client.get(f"/api/campaigns/{job.pk}/failed/?page=9").json()
    assert past["failed"] == [] and past["count"] == 45


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=abc", "page=1.5", "page=²",
                                   "page=99999999999999999999999", "page=1000001",
                                   "per_page=0", "per_page=101", "per_page=1e3",
                                   "page=%00", "page=%20%20"])
def test_a_bad_page_is_a_400_with_a_sentence(query):
    owner = make_user(staff=True)
    job = _campaign(owner, failed=1)
    response = _client(owner).get(f"/api/campaigns/{job.pk}/failed/?{query}")
    assert response.status_code == 400, (query, response.content)
    assert "whole number" in response.json()["error"]


def test_the_csv_holds_every_failed_recipient_and_no_formula():
    owner = make_user(staff=True)
    job = _campaign(owner, failed=2, sent=4)
    Recipient.objects.create(job=job, email="=HYPERLINK(\"http://x\")@example.test",
                             status=RecipientStatus.FAILED,
                             error="550 refused;=1+1\r\n+rest of the answer", attempts=2)
    response = _client(owner).get(f"/api/campaigns/{job.pk}/failed.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="failed-{job.pk}.csv"'
    assert response["Cache-Control"] == "private, no-store"
    assert response["X-Content-Type-Options"] == "nosniff"
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert rows[0] == ["email", "reason", "retryable", "attempts", "failed_at"]
    assert len(rows) == 1 + 3
    assert rows[1][:4] == ["failed-000@example.test", "550 5.1.1 No such user 0", "yes", "1"]
    hostile = rows[3]
    assert hostile[0] == "'=HYPERLINK(\"http://x\")@example.test"
    # One line, and no cell a ";" reader would split off starts a formula.
    assert hostile[1] == "550 refused;'=1+1 +rest of the answer"


def test_another_users_campaign_and_a_job_that_is_no_campaign_are_404():
    owner, other = make_user(staff=True), make_user(staff=True)
    job = _campaign(owner, failed=2)
    export = Job.objects.create(kind="export", title="Accident claims export", owner=other)
    client = _client(other)
    for tail in ("", "failed/", "failed.csv"):
        for target in (job.pk, export.pk, uuid.uuid4()):
            response = client.get(f"/api/campaigns/{target}/{tail}")
            assert response.status_code == 404, (tail, target)
            assert response.json() == {"error": "No such campaign."}
    assert client.get("/api/campaigns/not-a-uuid/failed/").status_code == 404
    # A superuser may see any job by its id, as everywhere.
    boss = make_user(superuser=True)
    assert _client(boss).get(f"/api/campaigns/{job.pk}/failed/").json()["count"] == 2


def test_the_owner_who_lost_the_right_no_longer_sees_it():
    owner = make_user(staff=True)
    job = _campaign(owner, failed=1)
    client = _client(owner)
    assert client.get(f"/api/campaigns/{job.pk}/").status_code == 200
    owner.groups.remove(Group.objects.get(name=ROLES["sender"]))
    assert client.get(f"/api/campaigns/{job.pk}/").status_code == 404
    assert client.get(f"/api/campaigns/{job.pk}/failed.csv").status_code == 404
    assert Client().get(f"/api/campaigns/{job.pk}/").status_code == 401


def test_the_admin_lists_the_recipients_of_one_campaign():
    admin = make_user(superuser=True)
    first = _campaign(admin, failed=2, sent=1)
    second = _campaign(admin, sent=4)
    client = _client(admin)
    page = client.get(f"/admin/campaigns/recipient/?campaign={first.pk}")
    assert page.status_code == 200
    assert page.context["cl"].result_count == 3
    assert {r.job_id for r in page.context["cl"].result_list} == {first.pk}
    # Offered in the filter, with a link from the campaign list.
    assert f"?campaign={second.pk}" in page.content.decode()
    listing = client.get("/admin/campaigns/campaign/").content.decode()
    assert f"/admin/campaigns/recipient/?campaign={first.pk}" in listing
    # Hand-typed or cut ids list nothing, never an error page.
    for value in ("nope", "1", str(first.pk)[:-3], "'; DROP TABLE x;--"):
        page = client.get("/admin/campaigns/recipient/", {"campaign": value})
        assert page.status_code == 200 and page.context["cl"].result_count == 0, value
