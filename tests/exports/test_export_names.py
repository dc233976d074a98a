"""What a finished export says about itself: the zone in its date/time headers, its filters in
the file name and on the job (JOB.subtitle), for both xlsx engines and CSV."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import openpyxl
import pytest
from django.core.files.storage import default_storage

from jobs.models import JobStatus
from jobs.snapshot import job_snapshot
from tests.exports.factories import export_now, make_accidents, make_warranties
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)
SAFE_NAME = re.compile(r"[a-z0-9_-]+\.(xlsx|csv)")


@pytest.fixture(autouse=True)
def _export_settings(settings, tmp_path):
    settings.EXPORT_TMP_DIR = tmp_path / "export-tmp"
    settings.MEDIA_ROOT = str(tmp_path / "media")


def _header(job) -> list[str]:
    path = Path(default_storage.path(job.result_file))
    if path.suffix == ".csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle))
    sheet = openpyxl.load_workbook(path, read_only=True).active
    return list(next(sheet.iter_rows(min_row=1, max_row=1, values_only=True)))


@pytest.mark.parametrize(("zone", "fmt", "engine"), [
    ("UTC", "xlsx", "fast"), ("UTC", "csv", "fast"), ("Europe/Paris", "xlsx", "fast"),
    ("Europe/Paris", "xlsx", "openpyxl"), ("Europe/Paris", "csv", "fast"),
    ("Etc/UTC", "csv", "fast"),
])
def test_date_time_headers_name_the_zone_of_their_values(settings, zone, fmt, engine):
    settings.TIME_ZONE, settings.EXPORT_XLSX_ENGINE = zone, engine
    make_accidents(3)
    job = export_now(owner_id=make_user(staff=True).pk, claim_type="accident", fmt=fmt)
    assert job.status == JobStatus.SUCCEEDED, job.error
    shown = "UTC" if zone == "Etc/UTC" else zone
    header = _header(job)
    assert f"Created at ({shown})" in header and f"Occurred at ({shown})" in header
    assert "Claim number" in header and "Amount" in header  # other headers as they were


def test_a_date_column_names_no_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    make_warranties(2)
    job = export_now(owner_id=make_user(staff=True).pk, claim_type="warranty", fmt="csv")
    header = _header(job)
    assert "Purchase date" in header and "Created at (Europe/Paris)" in header


def test_the_file_name_carries_the_filters_and_the_job_says_them():
    make_accidents(4, status="paid")
    make_accidents(3, status="open")
    job = export_now(owner_id=make_user(staff=True).pk, claim_type="accident", fmt="xlsx",
                     filters={"status": "paid", "created_at__gte": "2026-01-01",
                              "car__make__icontains": "Škoda"})
    assert job.status == JobStatus.SUCCEEDED and job.done == 4
    assert re.fullmatch(r"accident-claims_status-paid_created-at-from-2026-01-01"
                        r"_make-contains-skoda_\d{8}-\d{4}\.xlsx", job.result_name)
    assert SAFE_NAME.fullmatch(job.result_name)
    assert job.result_file.endswith(job.result_name)
    assert job_snapshot(job)["subtitle"] == (
        "Status: Paid · Created at: from 2026-01-01 · Make: contains “Škoda”")


def test_an_unfiltered_file_keeps_its_name():
    make_accidents(1)
    job = export_now(owner_id=make_user(staff=True).pk, claim_type="accident", fmt="csv")
    assert re.fullmatch(r"accident-claims-\d{8}-\d{4}\.csv", job.result_name)
    assert job_snapshot(job)["subtitle"] is None
