"""Job HTTP API status codes: 200/202/401/403/404/405/409/410, JSON errors only."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobStatus
from tests.factories import make_user
from tests.jobs.test_snapshot import check_schema

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def client_for():
    def build(user, **kwargs):
        client = Client(**kwargs)
        client.force_login(user)
        return client

    return build


def make_job(owner, **fields):
    return Job.objects.create(kind="demo", title="job", owner=owner, **fields)


def test_anonymous_gets_401_json(client):
    for path in ("/api/jobs/", f"/api/jobs/{uuid.uuid4()}/"):
        response = client.get(path)
        assert response.status_code == 401
        assert response.json() == {"error": "Log in first."}
    assert client.post("/api/demo-jobs/").status_code == 401


def test_list_is_newest_first_and_only_mine(owner, client_for):
    other = make_user()
    older = make_job(owner)
    newer = make_job(owner)
    make_job(other)
    jobs = client_for(owner).get("/api/jobs/").json()["jobs"]
    assert [job["id"] for job in jobs] == [str(newer.pk), str(older.pk)]
    for job in jobs:
        check_schema(job)


def test_someone_elses_job_is_404_not_403(owner, client_for):
    job = make_job(make_user())
    client = client_for(owner)
    for method, path in (("get", f"/api/jobs/{job.pk}/"), ("post", f"/api/jobs/{job.pk}/cancel/"),
                         ("get", f"/api/jobs/{job.pk}/download/"),
                         ("post", f"/api/jobs/{job.pk}/resume/")):
        response = getattr(client, method)(path)
        assert response.status_code == 404, path
        assert "error" in response.json()
    assert Job.objects.get(pk=job.pk).cancel_requested is False


def test_superuser_sees_every_job(client_for):
    job = make_job(make_user())
    response = client_for(make_user(superuser=True)).get(f"/api/jobs/{job.pk}/")
    assert response.status_code == 200 and response.json()["job"]["id"] == str(job.pk)


def test_unknown_ids_and_paths_are_json_404(owner, client_for):
    client = client_for(owner)
    for path in (f"/api/jobs/{uuid.uuid4()}/", "/api/jobs/not-a-uuid/", "/api/nothing/",
                 "/api/jobs/../../etc/passwd"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"] == "application/json"


def test_cancel_202_then_409(owner, client_for):
    job = make_job(owner)
    client = client_for(owner)
    response = client.post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 202
    assert response.json()["job"]["status"] == "cancelled"
    response = client.post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 409
    assert response.json()["error"] == "The job is already cancelled."


def test_cancel_running_asks_and_is_idempotent(owner, client_for):
    job = make_job(owner, status=JobStatus.RUNNING)
    client = client_for(owner)
    first = client.post(f"/api/jobs/{job.pk}/cancel/").json()["job"]
    second = client.post(f"/api/jobs/{job.pk}/cancel/").json()["job"]
    assert first["status"] == "running" and first["message"] == "Cancelling…"
    assert second["version"] == first["version"]
    assert Job.objects.get(pk=job.pk).cancel_requested


def test_wrong_method_is_405_json(owner, client_for):
    job = make_job(owner)
    client = client_for(owner)
    assert client.post("/api/jobs/").status_code == 405
    response = client.get(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_missing_csrf_is_json_403(owner, client_for):
    job = make_job(owner)
    client = client_for(owner, enforce_csrf_checks=True)
    response = client.post(f"/api/jobs/{job.pk}/cancel/")
    assert response.status_code == 403
    assert "CSRF" in response.json()["error"]
    assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED


def test_demo_endpoint_staff_only_and_validated(owner, client_for):
    non_staff = client_for(make_user(staff=False))
    assert non_staff.post("/api/demo-jobs/", {"steps": 3}).status_code == 403
    client = client_for(owner)
    for body in ({"steps": "many"}, {"steps": 0}, {"delay": 99}):
        response = client.post("/api/demo-jobs/", body, content_type="application/json")
        assert response.status_code == 400, body
        assert isinstance(response.json()["error"], str), body
    response = client.post("/api/demo-jobs/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "The request body is not valid JSON."
    response = client.post("/api/demo-jobs/", "[1]", content_type="application/json")
    assert response.status_code == 400
    response = client.post("/api/demo-jobs/", {"steps": 2, "delay": 0},
                           content_type="application/json")
    assert response.status_code == 202
    check_schema(response.json()["job"])


def test_download_404_until_succeeded_then_410_after_expiry(owner, client_for):
    name = default_storage.save(f"exports/{uuid.uuid4()}/file.csv", ContentFile(b"a,b\n1,2\n"))
    job = make_job(owner, status=JobStatus.RUNNING, result_file=name, result_name="file.csv",
                   expires_at=timezone.now() + timedelta(hours=1))
    client = client_for(owner)
    assert client.get(f"/api/jobs/{job.pk}/download/").status_code == 404
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED)
    response = client.get(f"/api/jobs/{job.pk}/download/")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"a,b\n1,2\n"
    assert response["Content-Disposition"] == 'attachment; filename="file.csv"'
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get(f"/api/jobs/{job.pk}/download/")
    assert response.status_code == 410 and "expired" in response.json()["error"]


def test_resume_conflicts(owner, client_for):
    job = make_job(owner, status=JobStatus.SUCCEEDED)
    response = client_for(owner).post(f"/api/jobs/{job.pk}/resume/")
    assert response.status_code == 409


def test_login_page_and_next(client):
    user = make_user()
    response = client.get("/accounts/login/?next=/api/jobs/")
    assert response.status_code == 200
    from tests.factories import PASSWORD

    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD,
                                                "next": "/api/jobs/"})
    assert response.status_code == 302 and response["Location"] == "/api/jobs/"


def test_a_server_that_stopped_taking_jobs_answers_503(owner, client_for):
    from jobs.runner import runner

    runner.accepting = False
    try:
        response = client_for(owner).post("/api/demo-jobs/", {"steps": 1})
    finally:
        runner.accepting = True
    assert response.status_code == 503 and response["Retry-After"] == "5"
    assert "shutting down" in response.json()["error"]
    assert not Job.objects.exists()


def test_x_accel_redirect_mode_hands_the_encoded_path_to_the_front_server(owner, client_for,
                                                                          settings):
    settings.EXPORT_X_ACCEL_REDIRECT = "/protected-media/"
    name = default_storage.save(f"exports/{uuid.uuid4()}/Schäden 2026.csv", ContentFile(b"x"))
    job = make_job(owner, status=JobStatus.SUCCEEDED, result_file=name,
                   result_name="Schäden 2026.csv")
    response = client_for(owner).get(f"/api/jobs/{job.pk}/download/")
    assert response.status_code == 200 and response.content == b""
    assert response["X-Accel-Redirect"].startswith("/protected-media/exports/")
    assert response["X-Accel-Redirect"].endswith("/Sch%C3%A4den%202026.csv")
    assert "filename*=utf-8''Sch%C3%A4den%202026.csv" in response["Content-Disposition"]
