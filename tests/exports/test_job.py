"""The export job in this process: DB rows -> file in storage, cancel, cleanup, retry."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import openpyxl
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from exports import jobs as export_jobs
from exports.models import AccidentClaim
from exports.services import (
    ExportInvalid,
    export_params,
    export_retry,
    exports_cleanup,
)
from jobs.models import Job, JobStatus
from jobs.services import JobNotResumable
from tests.exports.factories import (
    CancelAfterFirstChunk,
    export_now,
    make_accidents,
    make_warranties,
)
from tests.exports.sheet_text import excel_decode
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _export_settings(settings, tmp_path):
    settings.EXPORT_TMP_DIR = tmp_path / "export-tmp"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.TIME_ZONE = "Europe/Paris"
    settings.EXPORT_CHUNK_SIZE = 100  # several chunks with few rows


def _stored(job: Job) -> Path:
    return Path(default_storage.path(job.result_file))


@pytest.mark.parametrize("engine", ["fast", "openpyxl"])
def test_export_writes_one_row_per_claim_with_real_types(settings, engine):
    settings.EXPORT_XLSX_ENGINE = engine
    user = make_user(staff=True)
    make_accidents(250)
    job = export_now(owner_id=user.pk, claim_type="accident")
    assert job.status == JobStatus.SUCCEEDED, job.error
    assert job.total == job.done == 250
    assert job.result_file.startswith(f"exports/{job.pk}/") and job.result_file.endswith(".xlsx")
    assert job.expires_at - timezone.now() > timedelta(hours=23)
    ws = openpyxl.load_workbook(_stored(job)).active
    header = [c.value for c in ws[1]]
    assert header[:4] == ["Claim number", "Status", "Customer", "Email"]
    assert ws.max_row == 251 and ws.freeze_panes == "A2"
    by_number = {row[0]: row for row in ws.iter_rows(min_row=2, values_only=True)}
    assert len(by_number) == 250
    paris = timezone.get_default_timezone()
    for claim in AccidentClaim.objects.select_related("car"):
        row = dict(zip(header, by_number[claim.number], strict=True))
        # Control characters are kept as Excel writes them (_x0001_), decoded as Excel does.
        assert excel_decode(row["Customer"]) == claim.customer_name
        assert row["Status"] == "Open"
        assert isinstance(row["Amount"], float) and row["Amount"] == float(claim.amount)
        assert row["Year"] == claim.car.year and row["Make"] == "Škoda"
        local = timezone.localtime(claim.created_at, paris).replace(tzinfo=None)
        assert abs(row["Created at (Europe/Paris)"] - local) <= timedelta(milliseconds=1)
        assert row["Police involved"] is claim.police_involved
    assert not list(Path(settings.EXPORT_TMP_DIR).glob("*"))  # the temp file was moved


def test_warranty_dates_and_csv_format():
    user = make_user(staff=True)
    make_warranties(5)
    job = export_now(owner_id=user.pk, claim_type="warranty", fmt="csv")
    assert job.status == JobStatus.SUCCEEDED and job.result_name.endswith(".csv")
    lines = _stored(job).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 6 and "2024-02-29" in lines[1] and "Citroën" in lines[1]


def test_filters_export_only_matching_rows():
    user = make_user(staff=True)
    make_accidents(30, status="open")
    make_accidents(12, status="paid")
    job = export_now(owner_id=user.pk, claim_type="accident",
                     filters={"status__in": ["paid"], "amount__gte": "0"})
    assert job.status == JobStatus.SUCCEEDED and job.total == job.done == 12
    ws = openpyxl.load_workbook(_stored(job)).active
    assert {r[1] for r in ws.iter_rows(min_row=2, values_only=True)} == {"Paid"}


@pytest.mark.parametrize("filters", [
    {"password": "x"}, {"status": "nope"}, {"created_at__gte": "yesterday"},
    {"car__owner": 1}, ["status"], {"status__regex": ".*"}, {"amount__in": {"a": 1}},
])
def test_bad_filters_are_refused(filters):
    with pytest.raises(ExportInvalid):
        export_params(claim_type="accident", filters=filters)


def test_cancel_mid_export_leaves_no_file_behind(settings):
    user = make_user(staff=True)
    make_accidents(700)
    job = export_now(owner_id=user.pk, claim_type="accident",
                     reporter_factory=CancelAfterFirstChunk)
    assert job.status == JobStatus.CANCELLED
    assert 0 < job.done < 700
    assert not job.result_file
    assert not default_storage.exists(f"exports/{job.pk}")
    assert not list(Path(settings.EXPORT_TMP_DIR).glob("*"))


def test_cleanup_removes_expired_and_orphaned_files(settings):
    user = make_user(staff=True)
    make_accidents(3)
    job = export_now(owner_id=user.pk, claim_type="accident")
    keep = export_now(owner_id=user.pk, claim_type="accident")
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    orphan = default_storage.save("exports/not-a-job/x.xlsx", ContentFile(b"x"))
    tmp = Path(settings.EXPORT_TMP_DIR)
    dead_temp = tmp / f"{job.pk}.xlsx.part"
    dead_temp.write_bytes(b"partial")
    running = Job.objects.create(kind="export", owner=user, title="t", status=JobStatus.RUNNING)
    live_temp = export_jobs.temp_path(running.pk, "xlsx")
    live_temp.write_bytes(b"still writing")

    out = io.StringIO()
    call_command("cleanup_exports", stdout=out)
    assert "1 expired" in out.getvalue()
    assert not default_storage.exists(job.result_file)
    assert not default_storage.exists(orphan)
    assert not dead_temp.exists() and live_temp.exists()
    assert default_storage.exists(keep.result_file)
    assert exports_cleanup() == {"expired": 0, "orphaned": 0, "temp": 0}  # idempotent


def test_retry_starts_the_same_export_as_a_new_job():
    user = make_user(staff=True)
    old = Job.objects.create(kind="export", owner=user, title="t", status=JobStatus.FAILED,
                             params={"claim_type": "theft", "format": "csv",
                                     "filters": {"status": "open"}})
    with transaction.atomic():  # rolled back: the new job must not reach the runner
        new = export_retry(old, user.pk)
        assert new.pk != old.pk and new.resumed_from_id == old.pk
        # The same export; the retry also says its filters in words (JOB.subtitle).
        assert new.params == {**old.params, "subtitle": "Status: Open"}
        assert new.status == JobStatus.QUEUED
        assert new.title == "Theft claims export (CSV), filtered"
        transaction.set_rollback(True)


def test_retry_of_an_export_that_can_no_longer_run_is_refused():
    user = make_user(staff=True)
    old = Job.objects.create(kind="export", owner=user, title="t", status=JobStatus.FAILED,
                             params={"claim_type": "boats"})
    with pytest.raises(JobNotResumable):
        export_retry(old, user.pk)
