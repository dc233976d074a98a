"""End to end: a real daphne process, a real WebSocket client, a real download."""

from __future__ import annotations

import os
import uuid
import zipfile
from pathlib import Path

from django.utils import timezone

from jobs.models import Job, JobStatus
from tests.exports.factories import load_claims
from tests.factories import PASSWORD
from tests.live import LiveClient, job_finished

ROWS = 30_000


def test_export_progress_arrives_live_and_the_download_matches_storage(live_client, media_root):
    load_claims(ROWS)
    ws = live_client.websocket()
    assert ws.recv()["type"] == "jobs.snapshot"
    response = live_client.post("/api/exports/", {"claim_type": "accident"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]

    final = ws.recv_until(job_finished(job_id), timeout=90)["job"]
    assert final["status"] == "succeeded", final
    updates = [job for _t, job in ws.updates_for(job_id)]
    progress = [j for j in updates if j["status"] == "running" and j["done"] > 0]
    dones = [j["done"] for j in progress]
    # Several growing updates while it ran, the total known before the first row.
    assert len(progress) >= 2, [(j["status"], j["done"]) for j in updates]
    assert dones == sorted(dones) and dones[0] < dones[-1] <= ROWS
    assert all(j["total"] == ROWS for j in progress)
    versions = [j["version"] for j in updates]
    assert versions == sorted(set(versions))
    assert final["done"] == final["total"] == ROWS and final["percent"] == 100.0
    assert final["download_url"] == f"/api/jobs/{job_id}/download/" and final["expires_at"]

    download = live_client.get(final["download_url"])
    assert download.status_code == 200
    job = Job.objects.get(pk=job_id)
    stored = Path(media_root, job.result_file).read_bytes()
    assert download.content == stored
    assert download.headers["content-disposition"].startswith("attachment")
    with zipfile.ZipFile(Path(media_root, job.result_file)) as zf, \
            zf.open("xl/worksheets/sheet1.xml") as sheet:
        tail = sheet.read()[-4000:]
    assert f'<row r="{ROWS + 1}">'.encode() in tail and f'<row r="{ROWS + 2}"'.encode() not in tail
    ws.close()


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_download_memory_stays_flat_under_daphne(server_inmemory, media_root, staff_user):
    """docs/architecture.md, trap 6: a sync iterator under ASGI is consumed whole."""
    size = 96 * 1024 * 1024
    job = Job.objects.create(kind="export", owner=staff_user, title="big",
                             status=JobStatus.SUCCEEDED, result_name="big.xlsx",
                             params={"claim_type": "accident", "format": "xlsx"},
                             expires_at=timezone.now() + timezone.timedelta(hours=1))
    name = f"exports/{job.pk}/big-{uuid.uuid4().hex[:6]}.xlsx"
    path = Path(media_root, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        for _ in range(size // len(block)):
            fh.write(block)
    Job.objects.filter(pk=job.pk).update(result_file=name)

    client = LiveClient(server_inmemory.url).login(staff_user.username, PASSWORD)
    pid = server_inmemory.process.pid
    before = _rss_kib(pid)
    peak = before
    received = 0
    with client.http.stream("GET", f"/api/jobs/{job.pk}/download/") as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(size)
        for chunk in response.iter_bytes(1024 * 1024):
            received += len(chunk)
            if received % (8 * 1024 * 1024) < len(chunk):
                peak = max(peak, _rss_kib(pid))
    client.close()
    path.unlink()
    assert received == size
    grown_mib = (peak - before) / 1024
    assert grown_mib < 32, f"server RSS grew by {grown_mib:.0f} MiB for a 96 MiB download"
