"""Admin actions on a server that stopped taking jobs: a message, never a 500."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from jobs.models import Job, JobStatus
from jobs.runner import runner
from tests.campaigns.factories import make_agreement
from tests.exports.factories import make_accidents

pytestmark = pytest.mark.django_db


@pytest.fixture
def shutting_down():
    runner.accepting = False
    yield
    runner.accepting = True


def _interrupted_export(owner):
    return Job.objects.create(
        kind="export", title="Accident claims export", owner=owner, status=JobStatus.INTERRUPTED,
        resumable=True,  # as its ending would have recorded (exports can be retried)
        params={"claim_type": "accident", "format": "xlsx", "filters": {}},
    )


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("path, action, make_row", [
    ("/admin/exports/accidentclaim/", "export_in_background", lambda _user: make_accidents(2)[0]),
    ("/admin/campaigns/agreement/", "send_reminders", lambda _user: make_agreement()),
    ("/admin/jobs/job/", "resume_jobs", _interrupted_export),
])
def test_start_actions_say_the_server_is_shutting_down(admin_client, admin_user, shutting_down,
                                                       path, action, make_row):
    row = make_row(admin_user)
    jobs_before = list(Job.objects.values_list("pk", flat=True))
    response = admin_client.post(path, {"action": action, "_selected_action": [row.pk],
                                        "select_across": "1", "index": "0"})
    assert response.status_code == 302
    assert any("shutting down" in m for m in _messages(response)), _messages(response)
    assert list(Job.objects.values_list("pk", flat=True)) == jobs_before
