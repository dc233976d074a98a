"""End to end: a real daphne process, a real WebSocket client, both channel layers.

This is the test that catches docs/architecture.md, trap 1: with a naive
`async_to_sync(group_send)` from the job thread, the in-process layer delivers late or never
and the first assertions fail.
"""

from __future__ import annotations

import time

from tests.live import job_finished


def test_updates_arrive_while_the_job_runs(live_client):
    ws = live_client.websocket()
    first = ws.recv()
    assert first["type"] == "jobs.snapshot"

    started = time.monotonic()
    response = live_client.post("/api/demo-jobs/", {"steps": 40, "delay": 0.05})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]

    final = ws.recv_until(job_finished(job_id), timeout=30)
    updates = ws.updates_for(job_id)
    running = [(t, job) for t, job in updates if job["status"] == "running" and job["done"] > 0]

    # At least 5 progress updates with growing `done`, pushed while the job ran: they must
    # arrive spread over the run, not in a burst when something else wakes the server loop
    # (a naive async_to_sync send arrives in ~1 s clumps here).
    assert len(running) >= 5, [job["done"] for _, job in updates]
    dones = [job["done"] for _, job in running]
    assert dones == sorted(dones) and dones[0] < dones[-1]
    spread = [running[0][0]]
    for arrival, _job in running[1:]:
        if arrival - spread[-1] >= 0.1:
            spread.append(arrival)
    assert len(spread) >= 5, [round(t - started, 3) for t, _ in running]
    assert running[-1][0] < updates[-1][0], "progress must arrive before the final state"
    # The first update within 500 ms of the start (the bound), and the first with
    # progress too: one 50 ms step plus the push. A send that does not wake the server loop is
    # also caught by the spread above.
    assert updates[0][0] - started < 0.5, updates[0][0] - started
    assert running[0][0] - started < 0.5, running[0][0] - started
    # Versions strictly increase in arrival order (one server, one layer: no reordering).
    versions = [job["version"] for _, job in updates]
    assert versions == sorted(set(versions)), versions
    assert final["job"]["status"] == "succeeded"
    assert final["job"]["done"] == 40 and final["job"]["total"] == 40
    assert final["job"]["percent"] == 100.0

    detail = live_client.get(f"/api/jobs/{job_id}/").json()["job"]
    assert detail["status"] == "succeeded"
    assert detail["version"] == final["job"]["version"]
    assert detail["done"] == 40
    ws.close()


def test_sync_returns_the_true_state_and_ping_answers(live_client):
    response = live_client.post("/api/demo-jobs/", {"steps": 3, "delay": 0})
    job_id = response.json()["job"]["id"]
    ws = live_client.websocket()
    ws.recv_until(lambda m: m["type"] == "jobs.snapshot")
    deadline = time.monotonic() + 10
    while True:  # ask until the job's final state is in the snapshot
        ws.send({"action": "sync"})
        snap = ws.recv_until(lambda m: m["type"] == "jobs.snapshot")
        job = next(j for j in snap["jobs"] if j["id"] == job_id)
        if job["status"] == "succeeded" or time.monotonic() > deadline:
            break
        ws.recv_until(job_finished(job_id))
    assert job["status"] == "succeeded" and job["done"] == 3
    ws.send({"action": "ping"})
    assert ws.recv_until(lambda m: m["type"] != "job.update") == {"type": "pong"}
    ws.close()


def test_cancel_over_the_socket_stops_the_job(live_client):
    ws = live_client.websocket()
    ws.recv()
    job_id = live_client.post("/api/demo-jobs/", {"steps": 200, "delay": 0.02}).json()["job"]["id"]
    ws.recv_until(lambda m: m.get("type") == "job.update" and m["job"]["done"] >= 2)
    ws.send({"action": "cancel", "job": job_id})
    final = ws.recv_until(job_finished(job_id))
    assert final["job"]["status"] == "cancelled"
    assert final["job"]["done"] < 200
    assert live_client.get(f"/api/jobs/{job_id}/").json()["job"]["status"] == "cancelled"
    ws.close()
