"""Admin actions on a server that stopped taking jobs: a message, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.test import Client

from jobs.models import Job
from jobs.runner import runner
from tests.campaigns.factories import make_agreement
from tests.exports.factories import make_accidents
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(make_user(superuser=True))
    runner.accepting = False
    yield client
    runner.accepting = True


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("path, setup", [
    ("/admin/exports/accidentclaim/", lambda: make_accidents(2)),
    ("/admin/campaigns/agreement/", lambda: make_agreement()),
])
def test_start_actions_say_the_server_is_shutting_down(admin_client, path, setup):
    rows = setup()
    pk = rows[0].pk if isinstance(rows, list) else rows.pk
    action = "export_in_background" if "claim" in path else "send_reminders"
    response = admin_client.post(path, {"action": action, "_selected_action": [pk],
                                        "select_across": "1", "index": "0"})
    assert response.status_code == 302
    assert any("shutting down" in m for m in _messages(response)), _messages(response)
    assert not Job.objects.exists()
