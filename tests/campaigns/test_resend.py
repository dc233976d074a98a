"""No accidental second campaign: users reminded within CAMPAIGN_RESEND_AFTER are left out
unless the starter includes them, and the answers say how many and when the last one ran."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.test import Client

from campaigns.models import Acceptance, Recipient
from tests.campaigns.factories import job_ended, make_agreement, make_users
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def staff():
    return make_user(staff=True, email="starter@example.test")


@pytest.fixture
def client(staff):
    client = Client()
    assert client.login(username=staff.username, password=PASSWORD)
    return client


def _agreement(staff, slug="terms"):
    """An agreement its starter accepted (so they get only the summary)."""
    agreement = make_agreement(slug=slug)
    Acceptance.objects.create(user=staff, agreement=agreement)
    return agreement


def _start(client, **body):
    return client.post("/api/campaigns/", body, content_type="application/json")


def _run(client, **body):
    """Start a campaign through the API and wait for its end; (answer body, job row)."""
    from jobs.models import Job

    response = _start(client, **body)
    assert response.status_code == 202, response.content
    answer = response.json()
    return answer, job_ended(Job.objects.get(pk=answer["job"]["id"]))


def _reminded(mailoutbox) -> list[str]:
    return sorted(m.to[0] for m in mailoutbox if m.to[0] != "starter@example.test")


def test_a_second_campaign_minutes_later_mails_nobody_twice(staff, client, mailoutbox):
    _agreement(staff)
    first_wave = make_users(6, prefix="wave1")
    answer, first = _run(client, agreement="terms")
    assert (answer["recipients"], answer["skipped_recent"], answer["last_campaign"]) == (6, 0,
                                                                                         None)
    assert first.done == 6 and _reminded(mailoutbox) == sorted(first_wave)

    again = _start(client, agreement="terms")
    assert again.status_code == 409
    body = again.json()
    assert "All 6 users who have not accepted Terms & Conditions were reminded in the last " \
           "24 hours" in body["error"]
    assert body["skipped_recent"] == 6 and body["recipients"] == 0
    assert body["last_campaign"]["job_id"] == str(first.pk)
    assert body["last_campaign"]["sent"] == 6 and body["resend_after"] == 24 * 3600

    listed = client.get("/api/campaigns/agreements/").json()["agreements"][0]
    assert listed["unsigned"] == 6 and listed["reminded_recently"] == 6
    assert listed["last_campaign"]["job_id"] == str(first.pk)

    newcomers = make_users(2, prefix="wave2")
    mailoutbox.clear()
    answer, second = _run(client, agreement="terms")
    assert (answer["recipients"], answer["skipped_recent"]) == (2, 6)
    assert _reminded(mailoutbox) == sorted(newcomers)
    assert (second.total, second.done) == (2, 2)
    assert second.result["skipped_recent"] == 6
    [summary] = [m for m in mailoutbox if m.to == ["starter@example.test"]]
    assert "Left out:       6 (reminded of this version less than 24 hours ago)" in summary.body


def test_the_starter_can_include_the_recently_reminded(staff, client, mailoutbox):
    _agreement(staff)
    everyone = make_users(4, prefix="incl")
    _run(client, agreement="terms")
    mailoutbox.clear()
    answer, job = _run(client, agreement="terms", include_recent=True)
    assert (answer["recipients"], answer["skipped_recent"]) == (4, 0)
    assert _reminded(mailoutbox) == sorted(everyone) and job.params["include_recent"] is True
    # A form post says it the way a form does.
    form = Client()
    form.force_login(job.owner)
    response = form.post("/api/campaigns/", {"agreement": "terms", "include_recent": "on"})
    assert response.status_code == 202 and response.json()["recipients"] == 4


def test_the_window_and_the_version_bound_the_guard(staff, client, mailoutbox, settings):
    agreement = _agreement(staff)
    make_users(3, prefix="window")
    _run(client, agreement="terms")
    settings.CAMPAIGN_RESEND_AFTER = 0  # the window has passed
    answer, _job = _run(client, agreement="terms")
    assert (answer["recipients"], answer["skipped_recent"]) == (3, 0)
    settings.CAMPAIGN_RESEND_AFTER = 24 * 3600
    agreement.version = 2
    agreement.save()  # new terms: everyone is reminded of them
    answer, job = _run(client, agreement="terms")
    assert (answer["recipients"], answer["skipped_recent"], answer["last_campaign"]) == (3, 0,
                                                                                         None)
    assert Recipient.objects.filter(job=job, status="sent").count() == 3


@pytest.mark.parametrize("value", ["maybe", 2, {"a": 1}, ["true"], None, "tru\x00e"])
def test_include_recent_must_be_a_boolean(client, value):
    make_agreement(slug="terms")
    response = client.post("/api/campaigns/", json.dumps({"agreement": "terms",
                                                          "include_recent": value}),
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json() == {"error": "`include_recent` must be true or false."}


def test_run_job_refuses_with_the_reason_and_the_flag_to_use(staff, mailoutbox):
    from django.core.management.base import CommandError

    _agreement(staff)
    make_users(2, prefix="cli")
    call_command("run_job", "campaign", "terms", "--user", staff.username, "--plain",
                 stdout=io.StringIO())
    with pytest.raises(CommandError) as refused:
        call_command("run_job", "campaign", "terms", "--user", staff.username, "--plain",
                     stdout=io.StringIO())
    assert "were reminded in the last 24 hours" in str(refused.value)
    assert "--include-recent" in str(refused.value) and refused.value.returncode == 2
    out = io.StringIO()
    call_command("run_job", "campaign", "terms", "--include-recent", "--user", staff.username,
                 "--plain", stdout=out)
    assert "succeeded: 2 done, 0 failed" in out.getvalue()
