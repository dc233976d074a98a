"""The export and download endpoints: who may do what, and 4xx JSON for bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobStatus
from tests.exports.factories import make_accidents
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db  # one transaction per test: on_commit never starts a thread


def _client(user=None, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


def _finished_job(owner, *, content: bytes = b"PK\x03\x04 fake xlsx", expired: bool = False,
                  status: str = JobStatus.SUCCEEDED) -> Job:
    job = Job.objects.create(kind="export", owner=owner, title="Accident claims export",
                             status=status, params={"claim_type": "accident", "format": "xlsx"})
    name = default_storage.save(f"exports/{job.pk}/accident-claims.xlsx", ContentFile(content))
    when = timezone.now() + (timedelta(minutes=-1) if expired else timedelta(hours=24))
    Job.objects.filter(pk=job.pk).update(result_file=name, result_name="accident-claims.xlsx",
                                         expires_at=when)
    job.refresh_from_db()
    return job


def test_start_export_returns_the_queued_job():
    client = _client(make_user(staff=True))
    response = client.post("/api/exports/", {"claim_type": "theft"})
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["kind"] == "export" and job["status"] == "queued"
    assert job["title"] == "Theft claims export" and job["download_url"] is None
    stored = Job.objects.get(pk=job["id"])
    assert stored.params == {"claim_type": "theft", "format": "xlsx", "filters": {}}


def test_start_export_json_with_format_and_filters():
    client = _client(make_user(staff=True))
    response = client.post("/api/exports/", {"claim_type": "accident", "format": "csv",
                                             "filters": {"status__exact": "paid"}},
                           content_type="application/json")
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.params["format"] == "csv" and job.params["filters"] == {"status__exact": "paid"}
    # The form shortcut: status=..., filters as JSON text.
    response = client.post("/api/exports/", {"claim_type": "accident", "status": "open",
                                             "filters": '{"car__make": "Fiat"}'})
    assert response.status_code == 202, response.content
    job = Job.objects.get(pk=response.json()["job"]["id"])
    assert job.params["filters"] == {"car__make": "Fiat", "status": "open"}


@pytest.mark.parametrize(("body", "json_body", "needle"), [
    ({"claim_type": "boats"}, False, "choices"),
    ({}, False, "choices"),
    ({"claim_type": ["accident"]}, True, "choices"),
    ({"claim_type": "accident", "format": "pdf"}, True, "choices"),
    ({"claim_type": "accident", "filters": {"customer_name": "x"}}, True, "allowed_filters"),
    ({"claim_type": "accident", "filters": "{not json"}, False, "error"),
    ({"claim_type": "accident", "filters": {"created_at__gte": "soon"}}, True, "error"),
])
def test_bad_input_is_400_json(body, json_body, needle):
    client = _client(make_user(staff=True))
    if json_body:
        response = client.post("/api/exports/", body, content_type="application/json")
    else:
        response = client.post("/api/exports/", body)
    assert response.status_code == 400, response.content
    data = response.json()
    assert data["error"] and needle in data
    if needle == "choices" and "format" not in body:
        assert data["choices"] == ["accident", "theft", "warranty"]
    assert not Job.objects.exists()


@pytest.mark.parametrize("raw", [b"{bad json", b"[1, 2]", b'"text"'])
def test_malformed_json_is_400(raw):
    client = _client(make_user(staff=True))
    response = client.post("/api/exports/", raw, content_type="application/json")
    assert response.status_code == 400 and "error" in response.json()


def test_who_may_start():
    assert _client().post("/api/exports/", {"claim_type": "theft"}).status_code == 401
    response = _client(make_user(staff=False)).post("/api/exports/", {"claim_type": "theft"})
    assert response.status_code == 403 and "error" in response.json()
    assert _client(make_user(staff=True)).get("/api/exports/").status_code == 405
    assert not Job.objects.exists()


def test_csrf_is_required():
    client = _client(make_user(staff=True), csrf=True)
    response = client.post("/api/exports/", {"claim_type": "theft"})
    assert response.status_code == 403
    assert not Job.objects.exists()


def test_types_lists_keys_labels_and_row_counts():
    make_accidents(4)
    client = _client(make_user(staff=True))
    data = client.get("/api/exports/types/").json()
    first = data["types"][0]
    assert {k: first[k] for k in ("key", "label", "rows")} == {
        "key": "accident", "label": "Accident claims", "rows": 4}
    assert first["filters"][0]["field"] == "status"  # tests/exports/test_count_api.py: more
    assert [t["key"] for t in data["types"]] == ["accident", "theft", "warranty"]
    assert _client().get("/api/exports/types/").status_code == 401


def test_download_owner_only_and_streamed():
    owner, other = make_user(staff=True), make_user(staff=True)
    job = _finished_job(owner, content=b"x" * 600_000)
    response = _client(owner).get(f"/api/jobs/{job.pk}/download/")
    assert response.status_code == 200 and response.streaming
    assert b"".join(response.streaming_content) == b"x" * 600_000
    assert response["Content-Length"] == "600000"
    assert "attachment" in response["Content-Disposition"]
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    assert _client(other).get(f"/api/jobs/{job.pk}/download/").status_code == 404
    boss = make_user(superuser=True)
    assert _client(boss).get(f"/api/jobs/{job.pk}/download/").status_code == 200
    assert _client().get(f"/api/jobs/{job.pk}/download/").status_code == 401


def test_download_not_ready_404_and_expired_410():
    owner = make_user(staff=True)
    running = _finished_job(owner, status=JobStatus.RUNNING)
    expired = _finished_job(owner, expired=True)
    client = _client(owner)
    assert client.get(f"/api/jobs/{running.pk}/download/").status_code == 404
    response = client.get(f"/api/jobs/{expired.pk}/download/")
    assert response.status_code == 410 and "expired" in response.json()["error"]


def test_download_x_accel_redirect(settings):
    settings.EXPORT_X_ACCEL_REDIRECT = "/protected-media/"
    owner = make_user(staff=True)
    job = _finished_job(owner)
    response = _client(owner).get(f"/api/jobs/{job.pk}/download/")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"] == f"/protected-media/{job.result_file}"
