"""The JOB snapshot: exactly the contract's fields and types."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.snapshot import job_snapshot
from tests.factories import make_user

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STATUSES = {"queued", "running", "succeeded", "failed", "cancelled", "interrupted"}
# Written out from docs/contract.md ("JOB"), not imported from the code under test:
# a field dropped from jobs.snapshot must fail here, not silently shrink the check.
CONTRACT_FIELDS = {
    "id", "kind", "title", "status", "total", "done", "failed", "percent", "rate",
    "eta_seconds", "version", "message", "error", "download_url", "expires_at",
    "created_at", "started_at", "finished_at",
}


def check_schema(snap: dict) -> None:
    """Assert one snapshot has the contract's shape (used by other tests too)."""
    assert set(snap) >= CONTRACT_FIELDS, CONTRACT_FIELDS - set(snap)
    assert isinstance(snap["id"], str) and len(snap["id"]) == 36
    assert isinstance(snap["kind"], str) and isinstance(snap["title"], str)
    assert snap["message"] is None or isinstance(snap["message"], str)
    assert snap["status"] in STATUSES
    assert snap["total"] is None or isinstance(snap["total"], int)
    for key in ("done", "failed", "version"):
        assert isinstance(snap[key], int) and snap[key] >= 0
    for key in ("percent", "rate", "eta_seconds"):
        assert snap[key] is None or isinstance(snap[key], float)
    if snap["total"] is not None:
        assert snap["done"] + snap["failed"] <= snap["total"]
    for key in ("created_at", "started_at", "finished_at", "expires_at"):
        assert snap[key] is None or ISO_Z.match(snap[key]), (key, snap[key])
    assert snap["error"] is None or isinstance(snap["error"], str)
    if snap["download_url"] is not None:
        assert snap["status"] == "succeeded"


def test_running_job_has_percent_rate_and_eta(db):
    owner = make_user()
    now = timezone.now()
    job = Job.objects.create(kind="export", title="Accident claims export", owner=owner,
                             status=JobStatus.RUNNING, total=13000, done=5200, failed=3,
                             started_at=now - timedelta(seconds=2))
    snap = job_snapshot(job, now=now)
    check_schema(snap)
    assert snap["percent"] == 40.0
    assert snap["rate"] == 2601.5
    assert snap["eta_seconds"] == round((13000 - 5203) / 2601.5, 1)
    assert snap["download_url"] is None and snap["expires_at"] is None
    assert snap["created_at"].endswith("Z")


def test_queued_job_has_no_rate_and_a_queue_position(db):
    owner = make_user()
    first = Job.objects.create(kind="demo", title="a", owner=owner, worker_id="w1")
    second = Job.objects.create(kind="demo", title="b", owner=owner, worker_id="w1")
    snap = job_snapshot(second)
    check_schema(snap)
    assert (snap["total"], snap["percent"], snap["rate"], snap["eta_seconds"]) == (
        None, None, None, None)
    assert job_snapshot(first)["queue_position"] == 1
    assert snap["queue_position"] == 2


def test_download_url_only_when_succeeded_with_a_file(db):
    owner = make_user()
    job = Job.objects.create(kind="export", title="x", owner=owner, status=JobStatus.RUNNING,
                             result_file="exports/x/a.xlsx",
                             expires_at=timezone.now() + timedelta(hours=1))
    assert job_snapshot(job)["download_url"] is None
    job.status = JobStatus.SUCCEEDED
    job.finished_at = timezone.now()
    snap = job_snapshot(job)
    check_schema(snap)
    assert snap["download_url"] == f"/api/jobs/{job.pk}/download/"
    assert snap["expires_at"] is not None and snap["percent"] == 100.0


def test_a_snapshot_has_every_contract_field(db):
    job = Job.objects.create(kind="demo", title="x", owner=make_user())
    assert set(job_snapshot(job)) >= CONTRACT_FIELDS
