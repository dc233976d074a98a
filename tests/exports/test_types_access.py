"""The claim types list is for staff: a logged-in reminder recipient gets a 403, no counts."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.exports.factories import make_accidents
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


def test_non_staff_cannot_read_claim_counts():
    make_accidents(2)
    client = Client()
    assert client.login(username=make_user(staff=False).username, password=PASSWORD)
    response = client.get("/api/exports/types/")
    assert response.status_code == 403
    assert "types" not in response.json() and response.json()["error"]
