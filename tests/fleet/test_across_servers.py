"""Two servers, one product: an export started on A, watched and downloaded on B; a campaign
whose server is killed mid-send, resumed on a new process, to a real SMTP sink."""

from __future__ import annotations

import io
import re
import signal
import time
import zipfile
from collections import Counter

import pytest

from tests.campaigns.sink import Sink
from tests.fleet.conftest import STALE_BOUND, run_manage, update_of
from tests.live import job_finished
from tests.services import ROOT

pytestmark = pytest.mark.fleet

CLAIMS = 20_000
RECIPIENTS = 3_000
CONNECTIONS = 4


@pytest.fixture(scope="module")
def loaded(fleet_db):
    env = {"DATABASE_URL": fleet_db.url}
    run_manage(env, "load_demo_claims", "--count", str(CLAIMS))
    run_manage(env, "load_demo_users", "--count", str(RECIPIENTS), "--accept-every", "0")
    return fleet_db


@pytest.fixture(scope="module")
def sink():
    server = Sink(delay=0.001).start()
    yield server
    server.stop()


def _updates(ws, job_id):
    return [job for _t, job in ws.updates_for(job_id)]


def test_export_on_a_watched_and_downloaded_on_b(loaded, fleet_factory, redis_url, fleet_media):
    fleet = fleet_factory(redis_url)
    a, b = fleet.start("a"), fleet.start("b")
    # C is B with nginx in front: it hands the file to the front server (X-Accel-Redirect).
    c = fleet.start("c", EXPORT_X_ACCEL_REDIRECT="/protected-media/")
    user = loaded.make_user()
    on_a, on_b, on_c = (fleet.client(s, user) for s in (a, b, c))
    types = on_b.get("/api/exports/types/").json()["types"]
    kind = max(types, key=lambda t: t["rows"])
    assert kind["rows"] > 1000
    ws = on_b.websocket()
    ws.recv()

    response = on_a.post("/api/exports/", {"claim_type": kind["key"], "format": "xlsx"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    final = ws.recv_until(job_finished(job_id), timeout=60)["job"]
    assert final["status"] == "succeeded", final
    assert final["done"] == kind["rows"] and final["download_url"]
    seen = _updates(ws, job_id)
    assert [j["status"] for j in seen].count("running") >= 2, "progress crossed servers"
    versions = [j["version"] for j in seen]
    assert max(versions) == final["version"]

    # The file is on the shared volume: B (which never ran the job) streams it.
    got = on_b.get(final["download_url"])
    assert got.status_code == 200, got.text
    assert "attachment" in got.headers["content-disposition"]
    book = zipfile.ZipFile(io.BytesIO(got.content))
    assert "xl/worksheets/sheet1.xml" in book.namelist()
    # Through C the answer is the X-Accel-Redirect header; resolve it as deploy/nginx.conf does.
    accel = on_c.get(final["download_url"])
    assert accel.status_code == 200 and accel.content == b""
    target = accel.headers["x-accel-redirect"]
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    alias = re.search(r"location /protected-media/ \{[^}]*alias (\S+);", conf).group(1)
    assert target.startswith("/protected-media/exports/" + job_id + "/")
    on_disk = fleet_media / target.removeprefix("/protected-media/")
    assert alias.rstrip("/") == "/srv/media" and on_disk.read_bytes() == got.content
    assert accel.headers["content-disposition"] == got.headers["content-disposition"]
    # Not the owner: 404 on every server.
    stranger = fleet.client(a, loaded.make_user())
    assert stranger.get(final["download_url"]).status_code == 404
    ws.close()


def test_kill9_mid_campaign_then_resume_sends_everyone_once(loaded, fleet_factory, redis_url, sink):
    fleet = fleet_factory(
        redis_url,
        EMAIL_URL=sink.url + "?timeout=5",
        CAMPAIGN_CONNECTIONS=str(CONNECTIONS),
    )
    a, b = fleet.start("a"), fleet.start("b")
    owner = loaded.make_user()
    on_a, on_b = fleet.client(a, owner), fleet.client(b, owner)
    ws = on_b.websocket()
    ws.recv()
    sink.handler.messages.clear()
    sink.handler.count = 0

    response = on_a.post("/api/campaigns/", {"agreement": "terms"})
    assert response.status_code == 202, response.text
    first = response.json()["job"]["id"]
    ws.recv_until(update_of(first, lambda job: job["done"] >= RECIPIENTS // 4), timeout=60)
    killed = time.monotonic()
    a.stop(signal.SIGKILL)
    sent_before = sink.handler.count
    interrupted = ws.recv_until(
        update_of(first, lambda job: job["status"] == "interrupted"), timeout=STALE_BOUND + 5
    )["job"]
    # The bound plus 2 s for the sweep thread, the database and Redis on a loaded 2-core box.
    assert time.monotonic() - killed <= STALE_BOUND + 2.0
    assert interrupted["resumable"] and sent_before < RECIPIENTS

    a2 = fleet.start("a2")  # the same server, started again
    on_a2 = fleet.client(a2, owner)
    resumed = on_a2.post(f"/api/jobs/{first}/resume/")
    assert resumed.status_code == 202, resumed.text
    second = resumed.json()["job"]["id"]
    final = ws.recv_until(job_finished(second), timeout=90)["job"]
    assert final["status"] == "succeeded", final
    again = on_b.post(f"/api/jobs/{first}/resume/")
    assert again.status_code == 409, "a job is resumed once"

    demo = {f"demo-{n:06d}@example.test" for n in range(RECIPIENTS)}
    assert sink.wait_for(RECIPIENTS, timeout=30)
    got = Counter(r for r in sink.recipients().elements() if r in demo)
    missing = demo - set(got)
    duplicates = sum(n - 1 for n in got.values() if n > 1)
    print(
        f"\ncampaign kill -9: {sent_before} sent before the kill, "
        f"{duplicates} duplicate(s) after resume (in-flight bound {CONNECTIONS})"
    )
    assert not missing, f"{len(missing)} recipients never got their reminder"
    assert duplicates <= CONNECTIONS, duplicates
    flagged = loaded.scalar(
        "SELECT count(*) FROM campaigns_recipient WHERE job_id = %s AND maybe_duplicate", second
    )
    assert flagged >= duplicates
    ws.close()


def test_export_of_a_killed_server_is_retried_elsewhere(loaded, fleet_factory, redis_url):
    """A queued export (its server's only worker busy) dies with its server; retried on B."""
    fleet = fleet_factory(redis_url)
    a, b = fleet.start("a", JOBS_WORKERS="1"), fleet.start("b")
    user = loaded.make_user()
    on_a, on_b = fleet.client(a, user), fleet.client(b, user)
    ws = on_b.websocket()
    ws.recv()
    busy = on_a.post("/api/demo-jobs/", {"steps": 2000, "delay": 0.05}).json()["job"]["id"]
    ws.recv_until(update_of(busy, lambda job: job["status"] == "running"), timeout=15)
    response = on_a.post("/api/exports/", {"claim_type": "accident", "format": "csv"})
    assert response.status_code == 202, response.text
    export = response.json()["job"]
    assert export["status"] == "queued" and export["queue_position"] == 1
    a.stop(signal.SIGKILL)
    waiting = {busy, export["id"]}
    while waiting:  # both are swept in one round, in either order
        job = ws.recv_until(
            lambda m: m.get("type") == "job.update" and m["job"]["status"] == "interrupted",
            timeout=STALE_BOUND + 5,
        )
        waiting.discard(job["job"]["id"])
    retried = on_b.post(f"/api/jobs/{export['id']}/resume/")
    assert retried.status_code == 202, retried.text
    new = retried.json()["job"]
    assert new["resumed_from"] == export["id"]
    final = ws.recv_until(job_finished(new["id"]), timeout=60)["job"]
    assert final["status"] == "succeeded" and final["download_url"], final
    rows = on_b.get(final["download_url"]).text.strip().splitlines()
    assert len(rows) == final["done"] + 1  # header + every row
    assert on_b.post(f"/api/jobs/{export['id']}/resume/").status_code == 409
    ws.close()
