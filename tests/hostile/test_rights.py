"""Who may do what, against a real daphne: Django permissions decide, not `is_staff` alone."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from jobs.models import Job
from tests.factories import PASSWORD, ROLES, make_user
from tests.hostile.conftest import assert_refused
from tests.live import LiveClient
from tests.services import ROOT


@pytest.fixture
def clerk(server, transactional_db):
    """Staff with no role: may log in and watch, may start nothing."""
    user = make_user(staff=True, roles=())
    client = LiveClient(server.url).login(user.username, PASSWORD)
    yield user, client
    client.close()


def test_staff_without_the_export_right_get_403_and_no_types(clerk):
    user, client = clerk
    assert_refused(client.post("/api/exports/", {"claim_type": "accident"}), 403)
    answer = client.post("/api/exports/", {"claim_type": "accident"}).json()
    assert "Can export" in answer["error"] and "Ask an administrator" in answer["error"]
    assert client.get("/api/exports/types/").json() == {"types": []}
    assert not Job.objects.filter(owner=user).exists()


def test_the_export_right_is_per_claim_type(clerk):
    from django.contrib.auth.models import Permission

    user, client = clerk
    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_theftclaim", "export_theftclaim"]))
    keys = [t["key"] for t in client.get("/api/exports/types/").json()["types"]]
    assert keys == ["theft"]
    assert client.post("/api/exports/", {"claim_type": "theft"}).status_code == 202
    assert_refused(client.post("/api/exports/", {"claim_type": "accident"}), 403)
    # An unknown type lists only the choices this user has.
    answer = client.post("/api/exports/", {"claim_type": "boats"})
    assert answer.status_code == 400 and answer.json()["choices"] == ["theft"]


def test_the_view_right_alone_is_not_enough(clerk):
    from django.contrib.auth.models import Permission

    user, client = clerk
    user.user_permissions.add(Permission.objects.get(codename="view_accidentclaim"))
    assert_refused(client.post("/api/exports/", {"claim_type": "accident"}), 403)


def test_campaigns_need_the_send_reminders_right(clerk):
    from tests.campaigns.factories import make_agreement

    user, client = clerk
    make_agreement(slug="rights-terms")
    assert_refused(client.get("/api/campaigns/agreements/"), 403)
    assert_refused(client.post("/api/campaigns/", {"agreement": "rights-terms"}), 403)
    user.groups.add(Group.objects.get(name=ROLES["sender"]))
    assert client.get("/api/campaigns/agreements/").status_code == 200


def test_the_dashboard_offers_only_what_the_user_may_start(clerk):
    user, client = clerk
    page = client.get("/").text
    assert 'id="claim-types"' not in page and 'id="agreements"' not in page
    assert "Nothing to start" in page
    user.groups.add(Group.objects.get(name=ROLES["exporter"]))
    page = client.get("/").text
    assert 'id="claim-types"' in page and 'id="agreements"' not in page
    assert "Nothing to start" not in page


def test_losing_the_right_hides_what_was_exported_before(server, transactional_db):
    from tests.hostile.test_websocket import _open

    user = make_user(staff=True)
    client = LiveClient(server.url).login(user.username, PASSWORD)
    job = Job.objects.create(kind="export", owner=user, title="Accident claims export",
                             status="succeeded", params={"claim_type": "accident"},
                             result_file="exports/x/a.xlsx", result_name="a.xlsx")
    assert client.get(f"/api/jobs/{job.pk}/").status_code == 200
    user.groups.remove(Group.objects.get(name=ROLES["exporter"]))
    for path in (f"/api/jobs/{job.pk}/", f"/api/jobs/{job.pk}/download/"):
        assert_refused(client.get(path), 404)
    assert str(job.pk) not in client.get("/api/jobs/").text
    ws = _open(client)
    assert ws.received[0][1]["jobs"] == []
    ws.close()
    client.close()


def test_losing_staff_hides_every_job(server, transactional_db):
    user = make_user(staff=True)
    client = LiveClient(server.url).login(user.username, PASSWORD)
    job = Job.objects.create(kind="demo", owner=user, title="mine", status="succeeded")
    type(user).objects.filter(pk=user.pk).update(is_staff=False)
    assert client.get("/api/jobs/").json() == {"jobs": [], "next_before": None}
    assert_refused(client.get(f"/api/jobs/{job.pk}/"), 404)
    client.close()


def test_admin_actions_are_listed_only_with_the_right(server, transactional_db):
    from django.contrib.auth.models import Permission

    from tests.campaigns.factories import make_agreement
    from tests.exports.factories import make_accidents

    make_agreement(slug="admin-terms")  # an empty changelist shows no actions at all
    make_accidents(1)
    user = make_user(staff=True, roles=())

    user.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_accidentclaim", "view_agreement"]))
    client = LiveClient(server.url).login(user.username, PASSWORD)
    claims = client.get("/admin/exports/accidentclaim/").text
    agreements = client.get("/admin/campaigns/agreement/").text
    assert "export_in_background" not in claims and "send_reminders" not in agreements
    user.groups.add(*Group.objects.filter(name__in=ROLES.values()))
    claims = client.get("/admin/exports/accidentclaim/").text
    agreements = client.get("/admin/campaigns/agreement/").text
    assert "export_in_background" in claims and "send_reminders" in agreements
    client.close()


def test_run_job_checks_the_same_rights(transactional_db):
    user = make_user(staff=True, roles=())
    for args, right in ((("export", "accident"), "Can export"),
                        (("campaign", "terms"), "Can send reminder")):
        with pytest.raises(CommandError, match=right):
            call_command("run_job", *args, "--user", user.username, stdout=io.StringIO())
    assert not Job.objects.filter(owner=user).exists()


def test_one_user_cannot_fill_the_pool(server, transactional_db, settings):
    """JOBS_MAX_ACTIVE_PER_USER (5): the sixth start is a 429 with Retry-After and a count."""
    hog = make_user(staff=True)
    client = LiveClient(server.url).login(hog.username, PASSWORD)
    for n in range(5):
        Job.objects.create(kind="demo", owner=hog, title=f"q{n}", worker_id="elsewhere",
                           heartbeat_at=timezone.now())
    answer = client.post("/api/demo-jobs/", {"steps": 1, "delay": 0})
    assert_refused(answer, 429)
    assert answer.headers["Retry-After"].isdigit() and "5 jobs" in answer.json()["error"]
    other = make_user(staff=True)
    other_client = LiveClient(server.url).login(other.username, PASSWORD)
    assert other_client.post("/api/demo-jobs/", {"steps": 1, "delay": 0}).status_code == 202
    client.close()
    other_client.close()


@pytest.mark.parametrize(("env", "missing"), [
    ({"DJANGO_DEBUG": "1", "SITE_URL": "https://claims.example"}, "DJANGO_DEBUG"),
    ({}, "SITE_URL"),
])
def test_production_settings_fail_loudly(tmp_path, env, missing):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, capture_output=True, text=True,
        timeout=60, env={"PATH": "/usr/bin:/bin", "DJANGO_PRODUCTION": "1",
                         "DJANGO_SECRET_KEY": "x" * 50, "DJANGO_VAR_DIR": str(tmp_path),
                         "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}", **env},
    )
    assert result.returncode != 0 and missing in result.stderr, result.stderr[-500:]
