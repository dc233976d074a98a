"""Crash recovery across servers: SIGTERM, kill -9, a server that comes up with no traffic.

Real daphne processes on PostgreSQL + Redis. The demo job stands in for any job kind here;
the campaign test (test_campaign_crash.py) adds the resume-without-duplicates half.
"""

from __future__ import annotations

import signal
import time

import httpx
import pytest

from tests.fleet.conftest import STALE_BOUND, update_of
from tests.live import job_finished

pytestmark = pytest.mark.fleet


def _status(job_id: str, status: str):
    return update_of(job_id, lambda job: job["status"] == status)


def _start_running(client, ws, *, steps: int = 2000, delay: float = 0.05) -> str:
    response = client.post("/api/demo-jobs/", {"steps": steps, "delay": delay})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    ws.recv_until(update_of(job_id, lambda job: job["done"] >= 2), timeout=15)
    return job_id


def test_sigterm_marks_own_jobs_interrupted_at_once(fleet_db, fleet_factory, redis_url):
    fleet = fleet_factory(redis_url)
    a, b, user, on_a, on_b, ws = fleet.pair()
    job_id = _start_running(on_a, ws)

    stopped = time.monotonic()
    code = a.stop(signal.SIGTERM, timeout=15)
    took = time.monotonic() - stopped
    # Graceful: the process exits promptly (no pool thread holds it) and says so itself,
    # long before any other server could notice a stale heartbeat.
    assert code == 0 and took < 5, (code, took)
    final = ws.recv_until(_status(job_id, "interrupted"), timeout=5)["job"]
    # Marked by the shutdown itself ("Its server was stopped…"), not by another server's sweep
    # ("…stopped responding (no heartbeat)…"): the message tells them apart, no clock needed.
    assert "was stopped" in final["error"] and "no heartbeat" not in final["error"], final
    # The job's thread then stops at its next report and writes its final counts (trap 18):
    # the socket gets that last version too, and it agrees with the row.
    row = fleet_db.job(job_id)
    if row["version"] != final["version"]:
        final = ws.recv_until(update_of(job_id, lambda job: job["version"] == row["version"]),
                              timeout=5)["job"]
    assert row["status"] == "interrupted" == final["status"]
    assert (row["done"], row["failed"]) == (final["done"], final["failed"])
    ws.close()


def test_kill9_job_is_interrupted_by_another_server_within_the_bound(
    fleet_db, fleet_factory, redis_url
):
    fleet = fleet_factory(redis_url)
    a, b, user, on_a, on_b, ws = fleet.pair()
    job_id = _start_running(on_a, ws)

    killed = time.monotonic()
    a.stop(signal.SIGKILL)
    final = ws.recv_until(_status(job_id, "interrupted"), timeout=STALE_BOUND + 5)["job"]
    took = time.monotonic() - killed
    # The bound plus 2 s for the sweep thread, the database and Redis on a loaded 2-core box.
    assert took <= STALE_BOUND + 2.0, took
    assert "no heartbeat" in final["error"]
    # A reconnecting client and the API on the surviving server agree.
    ws2 = on_b.websocket()
    snap = ws2.recv_until(lambda m: m["type"] == "jobs.snapshot")
    assert next(j for j in snap["jobs"] if j["id"] == job_id)["status"] == "interrupted"
    assert on_b.get(f"/api/jobs/{job_id}/").json()["job"]["status"] == "interrupted"
    ws.close()
    ws2.close()


def test_a_server_with_no_traffic_still_sweeps(fleet_db, fleet_factory, redis_url):
    """The monitor starts with the reactor, not with the first request."""
    fleet = fleet_factory(redis_url)
    a = fleet.start("a")
    user = fleet_db.make_user()
    on_a = fleet.client(a, user)
    ws = on_a.websocket()
    ws.recv()
    job_id = _start_running(on_a, ws)
    ws.close()
    a.stop(signal.SIGKILL)
    killed = time.monotonic()
    fleet.start("c")  # nobody ever talks to it
    deadline = killed + STALE_BOUND + 10
    while fleet_db.job(job_id)["status"] != "interrupted":
        assert time.monotonic() < deadline, "the idle server never swept the stale job"
        time.sleep(0.1)  # polling the database: there is no event to wait on from outside
    assert time.monotonic() - killed <= STALE_BOUND + 8  # includes daphne's start-up


def test_new_jobs_are_refused_once_a_server_shuts_down(fleet_db, fleet_factory, redis_url):
    """After SIGTERM the surviving server takes the work; the stopped one keeps none."""
    fleet = fleet_factory(redis_url)
    a, b, user, on_a, on_b, ws = fleet.pair()
    first = _start_running(on_a, ws, steps=400, delay=0.02)
    a.stop(signal.SIGTERM)
    ws.recv_until(_status(first, "interrupted"), timeout=5)
    with pytest.raises(httpx.TransportError):  # connection refused
        on_a.post("/api/demo-jobs/", {"steps": 1, "delay": 0})
    response = on_b.post("/api/demo-jobs/", {"steps": 5, "delay": 0})
    assert response.status_code == 202
    second = response.json()["job"]["id"]
    assert ws.recv_until(job_finished(second), timeout=15)["job"]["status"] == "succeeded"
    ws.close()
