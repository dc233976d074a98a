"""Numbers int() cannot take answer 400, not 500: JSON 1e400 (inf), Unicode digits like "²"."""

from __future__ import annotations

import pytest
from django.test import Client

from jobs.models import Job
from tests.campaigns.factories import make_agreement
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db  # one transaction per test: on_commit never starts a thread


@pytest.fixture
def client() -> Client:
    user = make_user(staff=True)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.mark.parametrize("body", ['{"steps": 1e400}', '{"fail_every": 1e400}',
                                  '{"crash_at": -1e400}'])
def test_demo_job_with_an_infinite_integer_is_a_400(client, body):
    response = client.post("/api/demo-jobs/", body, content_type="application/json")
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()


@pytest.mark.parametrize("value", ["²", "1²", "٣"])
def test_campaign_for_a_unicode_digit_agreement_is_a_400(client, value):
    make_agreement()
    response = client.post("/api/campaigns/", {"agreement": value})
    assert response.status_code == 400, response.content
    assert not Job.objects.exists()
