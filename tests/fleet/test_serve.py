"""Two daphne processes on one port under realtime_site/serve.py, for real.

The supervisor binds one socket and runs `daphne --fd` children on it; they share PostgreSQL
and Redis like two hosts would. Which child took a connection is read from the kernel
(tests/socket_owners.py): nothing in an answer names the process.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests import socket_owners
from tests.factories import PASSWORD
from tests.fleet.conftest import update_of
from tests.live import LiveClient
from tests.serve_process import Supervised
from tests.services import ROOT

pytestmark = pytest.mark.fleet


@pytest.fixture
def serve(fleet_factory, redis_url, output_dir):
    fleet = fleet_factory(redis_url)
    started: list[Supervised] = []

    def make(processes: int = 2, systemd: bool = False) -> Supervised:
        started.append(Supervised(fleet.env, output_dir, processes, systemd))
        return started[-1]

    make.db = fleet.db
    yield make
    for supervisor in started:
        supervisor.stop()


def _sockets_on(server: Supervised, client: LiveClient, count: int):
    sockets = []
    for _ in range(count):
        ws = client.websocket()
        assert ws.recv()["type"] == "jobs.snapshot"
        sockets.append(ws)
    ports = [ws.conn.socket.getsockname()[1] for ws in sockets]
    return sockets, socket_owners.owners(server.port, ports, server.children())


def test_sockets_on_one_port_land_on_both_processes_and_get_each_others_pushes(serve):
    server = serve(2)
    pids = server.children()
    assert len(pids) == 2, pids
    user = serve.db.make_user()
    client = LiveClient(server.url).login(user, PASSWORD)
    sockets, owner = _sockets_on(server, client, 24)
    spread = {pid: list(owner.values()).count(pid) for pid in pids}
    # Both processes took sockets (24 connections all on one would be the kernel not
    # spreading, or a child that never accepts), and every socket has one of them as owner.
    assert None not in owner.values(), owner
    assert all(spread.values()), spread

    # The job runs in whichever process took the POST; sockets on both processes get it, so
    # at least half of them get it through Redis from the other process.
    response = client.post("/api/demo-jobs/", {"steps": 5, "delay": 0.05})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    for ws in sockets:
        final = ws.recv_until(update_of(job_id, lambda job: job["status"] == "succeeded"))
        assert final["job"]["done"] == 5
        ws.close()
    client.close()


def test_a_killed_child_is_restarted_and_the_port_keeps_answering(serve):
    server = serve(2)
    victim, survivor = server.children()
    os.kill(victim, signal.SIGKILL)
    # At once, before any restart: the survivor accepts everything on the shared socket.
    with httpx.Client(base_url=server.url, timeout=10) as http:
        for _ in range(10):
            assert http.get("/api/schema/", headers={"Connection": "close"}).status_code == 200
    server.wait_listening(3)
    pids = server.children()
    assert survivor in pids and victim not in pids and len(pids) == 2, (victim, pids)
    (newcomer,) = set(pids) - {survivor}
    assert re.search(rf"child \d \(pid {victim}\) exited with -9", server.log.read_text())

    # The new child accepts too: among a few sockets some land on it.
    user = serve.db.make_user()
    client = LiveClient(server.url).login(user, PASSWORD)
    sockets, owner = _sockets_on(server, client, 24)
    assert newcomer in owner.values(), owner
    for ws in sockets:
        ws.close()
    client.close()


def test_sigterm_stops_every_child_and_their_jobs_end_interrupted(serve):
    server = serve(2)
    pids = server.children()
    user = serve.db.make_user()
    client = LiveClient(server.url).login(user, PASSWORD)
    ws = client.websocket()
    assert ws.recv()["type"] == "jobs.snapshot"
    response = client.post("/api/demo-jobs/", {"steps": 2000, "delay": 0.05})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    ws.recv_until(update_of(job_id, lambda job: job["done"] >= 2), timeout=15)

    stopped = time.monotonic()
    assert server.stop() == 0, server.log.read_text()[-3000:]
    assert time.monotonic() - stopped < 10
    for pid in pids:  # reaped by the supervisor, so gone
        assert not os.path.exists(f"/proc/{pid}"), pid
    # Marked by its own process's shutdown (lifecycle.py), not by a later stale-job sweep.
    row = serve.db.job(job_id)
    assert row["status"] == "interrupted" and "was stopped" in row["error"], row
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
    text = server.log.read_text()
    assert text.count("stopped with 0") == 2 and "all children stopped" in text, text[-3000:]
    client.close()


@pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                    reason="needs systemd-socket-activate (Debian package systemd)")
def test_under_systemd_socket_activation_the_children_serve_systemds_socket(serve):
    server = serve(2, systemd=True)
    text = server.log.read_text()
    assert "using the socket systemd passed (127.0.0.1:" in text, text[-3000:]
    assert server.children() and len(server.children()) == 2
    user = serve.db.make_user()
    client = LiveClient(server.url).login(user, PASSWORD)
    sockets, owner = _sockets_on(server, client, 24)
    assert None not in owner.values() and len(set(owner.values())) == 2, owner
    for ws in sockets:
        ws.close()
    client.close()
    assert server.stop() == 0, server.log.read_text()[-3000:]


def _serve_command(*args: str, manage: bool = False) -> subprocess.CompletedProcess:
    head = ["manage.py", "serve"] if manage else ["-m", "realtime_site.serve"]
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": "realtime_site.settings"}
    return subprocess.run([sys.executable, *head, *args], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=60, check=False)


@pytest.mark.parametrize("manage", [False, True], ids=["module", "manage.py"])
def test_bad_arguments_and_a_busy_port_are_refused_with_a_sentence(manage):
    done = _serve_command("--bind", "nonsense", manage=manage)
    assert done.returncode == 2 and "is not HOST:PORT" in done.stderr, done.stderr
    done = _serve_command("--bind", "[::1]:8000", manage=manage)  # daphne --fd is IPv4 only
    assert done.returncode == 2 and "IPv4" in done.stderr, done.stderr
    done = _serve_command("--processes", "0", "--bind", "127.0.0.1:1", manage=manage)
    assert done.returncode == 2 and "at least 1" in done.stderr, done.stderr
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = _serve_command("--bind", f"127.0.0.1:{port}", manage=manage)
    assert done.returncode == 2, done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr


def test_a_child_that_dies_at_start_is_retried_with_growing_pauses_and_sigterm_still_stops(
    tmp_path,
):
    log = tmp_path / "serve.log"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
           "DJANGO_SETTINGS_MODULE": "realtime_site.settings", "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "realtime_site.serve", "--processes", "1", "--bind",
         "127.0.0.1:0", "--app", "no_such_module:application"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "starting it again in 1.0 s" not in log.read_text():  # the 2nd quick death
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)  # polling the log: the line itself is the event
        text = log.read_text()
        assert "starting it again in 0.5 s" in text, text
        process.send_signal(signal.SIGTERM)  # during a pause, or while a child starts
        assert process.wait(20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
