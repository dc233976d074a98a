"""Export filters the model cannot run are refused with a 400, never accepted and failed later."""

from __future__ import annotations

import pytest
from django.test import Client

from jobs.models import Job
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db  # one transaction per test: on_commit never starts a thread


def _post(body: str):
    user = make_user(staff=True)
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client.post("/api/exports/", body, content_type="application/json")


@pytest.mark.parametrize("filters", [
    '{"status__year": "2020"}',  # a date lookup on a text field
    '{"car__make__month": 3}',
    '{"created_at__year": "99999"}',  # no such datetime
    '{"created_at__month": 13}',
    '{"created_at__year": 1e400}',  # JSON infinity: int() overflows
    '{"car__year": 1e400}',
    '{"car__year__in": [2020, 1e400]}',
    # NUL in text: PostgreSQL refuses the query, so the job failed in its thread after a 202.
    '{"car__make": "Fi\\u0000at"}',
    '{"customer_email__icontains": "\\u0000"}',
    '{"car__make__in": ["Fiat", "\\u0000"]}',
    # Dates the query cannot hold in UTC: the job failed with an OverflowError after a 202.
    '{"created_at__gte": "0001-01-01T00:00:00+01:00"}',
    '{"occurred_at__lt": "9999-12-31T23:30:00-02:00"}',
])
def test_unrunnable_filters_are_a_400(filters):
    response = _post(f'{{"claim_type": "accident", "filters": {filters}}}')
    assert response.status_code == 400, response.content
    assert response.json()["error"]
    assert not Job.objects.exists()


def test_runnable_date_part_filters_still_start_the_export():
    response = _post('{"claim_type": "accident", "filters": {"created_at__year": 2026, '
                     '"created_at__month": "3", "car__year__gte": 2010}}')
    assert response.status_code == 202, response.content

