"""Redis goes away mid-job and comes back: the job goes on, its state is persisted, and clients
that reconnect or `sync` see the true state.

Always a private Redis (never the shared REDIS_URL one): this test stops it.
"""

from __future__ import annotations

import signal
import time

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.fleet.conftest import run_manage, update_of
from tests.live import job_finished
from tests.services import Redis

pytestmark = pytest.mark.fleet


@pytest.fixture
def private_redis():
    server = Redis()
    server.url = ""  # ignore REDIS_URL: this one gets stopped
    url = server.start()
    yield server, url
    server.stop()


def _done(client, job_id: str) -> tuple[str, int]:
    job = client.get(f"/api/jobs/{job_id}/").json()["job"]
    return job["status"], job["done"]


def test_job_survives_redis_outage_and_clients_resync(fleet_db, fleet_factory, private_redis):
    redis, url = private_redis
    fleet = fleet_factory(url)
    a, b, user, on_a, on_b, ws = fleet.pair()
    steps, delay = 80, 0.05
    started = time.monotonic()
    job_id = on_a.post("/api/demo-jobs/", {"steps": steps, "delay": delay}).json()["job"]["id"]
    ws.recv_until(update_of(job_id, lambda job: job["done"] >= 3), timeout=15)

    redis.stop()
    _, done_at_stop = _done(on_a, job_id)
    # While Redis is down: progress keeps being persisted (read back through both servers)...
    deadline = time.monotonic() + 10
    while (state := _done(on_b, job_id))[1] < done_at_stop + 20 and state[0] == "running":
        assert time.monotonic() < deadline, "no progress persisted while Redis was down"
        time.sleep(0.1)  # polling the API: pushes are exactly what is missing here
    # ...and a socket opened meanwhile is refused quickly, never hung: channels subscribes the
    # new channel before the consumer runs, so the handshake fails (HTTP 500 from daphne) and
    # the browser's reconnect backoff retries until Redis is back.
    opened = time.monotonic()
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        dead = on_b.websocket()
        while True:
            dead.recv(timeout=8)
    assert time.monotonic() - opened < 5
    assert _done(on_a, job_id)[0] in {"running", "succeeded"}

    redis.start()  # same port, empty: like a Redis restart
    deadline = time.monotonic() + 20
    while _done(on_a, job_id)[0] != "succeeded":
        assert time.monotonic() < deadline, "the job did not finish"
        time.sleep(0.1)  # polling the API: the old socket may not have survived the outage
    # Sends failed fast: the job's own pace (80 x 50 ms) was not held up by the outage.
    assert time.monotonic() - started < steps * delay + 8

    # A client that reconnects (to either server) sees the true final state at once.
    for client in (on_a, on_b):
        ws2 = client.websocket()
        snap = ws2.recv_until(lambda m: m["type"] == "jobs.snapshot", timeout=10)
        job = next(j for j in snap["jobs"] if j["id"] == job_id)
        assert job["status"] == "succeeded" and job["done"] == steps, job
        ws2.close()
    # An old socket that asks `sync` gets it too, if it survived the outage. Only a close is
    # excused (the server closed it when its layer broke: the reconnect above covers that);
    # a wrong snapshot or a socket that hangs still fails the test.
    try:
        ws.send({"action": "sync"})
        snap = ws.recv_until(lambda m: m["type"] == "jobs.snapshot", timeout=5)
    except ConnectionClosed:
        snap = None
    if snap is not None:
        assert next(j for j in snap["jobs"] if j["id"] == job_id)["status"] == "succeeded"

    # Pushes across servers work again after the restart (pub/sub re-subscribed).
    ws3 = on_b.websocket()
    ws3.recv()
    again = on_a.post("/api/demo-jobs/", {"steps": 5, "delay": 0.01}).json()["job"]["id"]
    assert ws3.recv_until(job_finished(again), timeout=15)["job"]["status"] == "succeeded"
    ws3.close()


def test_export_completes_through_redis_outage(fleet_db, fleet_factory, private_redis):
    redis, url = private_redis
    run_manage(
        {"DATABASE_URL": fleet_db.url},
        "load_demo_claims",
        "--count",
        "60000",
        "--types",
        "accident",
    )
    fleet = fleet_factory(url, EXPORT_CHUNK_SIZE="500")
    a, b, user, on_a, on_b, ws = fleet.pair()
    response = on_a.post("/api/exports/", {"claim_type": "accident", "format": "xlsx"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    ws.recv_until(update_of(job_id, lambda job: job["done"] > 0), timeout=30)
    redis.stop()
    at_stop = fleet_db.job(job_id)
    assert at_stop["status"] == "running", "the export must still be running when Redis stops"
    # Progress keeps being written while Redis is down.
    deadline = time.monotonic() + 30
    while (row := fleet_db.job(job_id))["done"] <= at_stop["done"]:
        assert time.monotonic() < deadline, "no progress persisted while Redis was down"
        time.sleep(0.05)  # polling the database: pushes are exactly what is missing here
    redis.start()
    deadline = time.monotonic() + 60
    while (row := fleet_db.job(job_id))["status"] == "running":
        assert time.monotonic() < deadline, "the export did not finish"
        time.sleep(0.1)  # polling the database: the socket's layer just came back empty
    assert row["status"] == "succeeded" and row["done"] == 60_000, row["error"]
    ws2 = on_b.websocket()
    snap = ws2.recv_until(lambda m: m["type"] == "jobs.snapshot", timeout=10)
    job = next(j for j in snap["jobs"] if j["id"] == job_id)
    assert job["status"] == "succeeded" and job["download_url"]
    assert on_b.get(job["download_url"]).status_code == 200
    ws2.close()


def test_frozen_redis_blocks_nothing(fleet_db, fleet_factory, private_redis):
    """SIGSTOP: Redis accepts connections but never answers (a black-holed host, a long GC
    pause). Sends are bounded on the loop, so the job's pace and the HTTP API are unaffected."""
    redis, url = private_redis
    fleet = fleet_factory(url)
    a, b, user, on_a, on_b, ws = fleet.pair()
    redis.process.send_signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        job_id = on_a.post("/api/demo-jobs/", {"steps": 40, "delay": 0.05}).json()["job"]["id"]
        assert time.monotonic() - started < 1, "starting a job waited on Redis"
        while (row := fleet_db.job(job_id))["status"] != "succeeded":
            assert time.monotonic() - started < 10, row["status"]
            time.sleep(0.05)  # polling the database: pushes are what is frozen
        # 2 s of steps plus 4 s of slack for a loaded machine; a send that waited on the
        # frozen Redis would cost its 2 s timeout on each of the ~10 pushes.
        assert time.monotonic() - started < 40 * 0.05 + 4, "the job thread waited on Redis"
        assert on_b.get(f"/api/jobs/{job_id}/").json()["job"]["status"] == "succeeded"
    finally:
        redis.process.send_signal(signal.SIGCONT)
    # Thawed: the snapshot is the truth, and pushes cross servers again.
    again = on_a.post("/api/demo-jobs/", {"steps": 3, "delay": 0.01}).json()["job"]["id"]
    assert ws.recv_until(job_finished(again), timeout=20)["job"]["status"] == "succeeded"
    ws.send({"action": "sync"})
    snap = ws.recv_until(lambda m: m["type"] == "jobs.snapshot", timeout=10)
    assert next(j for j in snap["jobs"] if j["id"] == job_id)["status"] == "succeeded"
    ws.close()
