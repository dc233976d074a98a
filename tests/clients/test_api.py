"""The Python API (`from rtjobs import Client`) in this process, and the command's terminal
bar, against the same real daphne."""

from __future__ import annotations

import os
import pty
import subprocess
import tomllib

import pytest

from tests.clients.conftest import CLIENT_SRC, command_env, rtjobs_argv
from tests.exports.factories import make_accidents
from tests.services import ROOT, free_port


def test_start_export_wait_download_and_the_listings(server, token, tmp_path):
    from rtjobs import Client

    make_accidents(5)
    client = Client(server.url + "/", token)
    job = client.start_export("accident", format="csv", filters={"status": "open"})
    assert job.status in ("queued", "running") and job.info["job"]["id"] == job.id
    seen: list[dict] = []
    final = job.wait(on_progress=seen.append, timeout=60)
    assert final["status"] == "succeeded" and final["done"] == 5 and final is job.snapshot
    versions = [j["version"] for j in seen]
    assert versions == sorted(set(versions)) and seen[-1] is final  # only ever newer
    path = job.download(tmp_path)
    assert path.parent == tmp_path and path.name.startswith("accident-claims_status-open_")
    assert path.suffix == ".csv" and not list(tmp_path.glob("*.part"))
    assert [j["id"] for j in client.jobs()] == [job.id]
    assert client.job(job.id).snapshot == final
    assert job.wait() == final  # already ended: at once, no socket needed


def test_errors_are_typed_with_the_servers_sentence(server, token, holder):
    from rtjobs import ApiError, AuthError, Client, Unreachable, UsageError

    from tokens.services import token_create

    client = Client(server.url, token)
    with pytest.raises(ApiError) as info:
        client.start_export("nosuch")
    assert info.value.status == 400 and "choices" in info.value.body
    with pytest.raises(ApiError) as info:
        client.job("8b0c0000-0000-4000-8000-000000000000")
    assert info.value.status == 404
    read_only = Client(server.url, token_create(user=holder, scopes=["read"])[1])
    with pytest.raises(AuthError) as info:
        read_only.start_campaign("terms")
    assert info.value.status == 403 and info.value.body["missing_scope"] == "start"
    with pytest.raises(Unreachable):
        Client(f"http://127.0.0.1:{free_port()}", token).jobs()
    for url in (f"{server.url}/?access_token={token}", f"http://u:{token}@127.0.0.1/",
                "ftp://127.0.0.1/"):
        with pytest.raises(UsageError):
            Client(url, token)
    with pytest.raises(UsageError):
        Client(server.url, "rtj_bad token")


def test_wait_times_out_and_the_job_goes_on(server, token):
    from rtjobs import Client, WaitTimeout

    client = Client(server.url, token)
    answer = client.request("POST", "/api/demo-jobs/", {"steps": 2000, "delay": 0.05})
    job = client.job(answer["job"]["id"])
    with pytest.raises(WaitTimeout):
        job.wait(timeout=0.5)
    assert job.refresh()["status"] == "running"
    assert job.cancel()["message"] == "Cancelling…"
    assert job.wait(timeout=30)["status"] == "cancelled"


def test_on_a_terminal_the_bar_is_redrawn_in_place(server, token):
    make_accidents(3)
    master, slave = pty.openpty()
    process = subprocess.Popen(
        rtjobs_argv("start", "export", "accident", "--wait"), cwd=ROOT,
        env=command_env(server, token, TERM="xterm", COLUMNS="100"),
        stdout=subprocess.PIPE, stderr=slave, text=True)
    os.close(slave)
    shown = b""
    while True:  # until the child closes the terminal (EIO on Linux)
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    os.close(master)
    assert process.wait(30) == 0
    text = shown.decode()
    assert "\r" in text and "[####################]" in text and "\x1b[K" in text
    assert text.rstrip().splitlines()[-1].startswith("succeeded: 3/3")
    printed = process.stdout.read()  # stdout is a pipe here: the job id alone
    assert printed.count("\n") == 1 and "\r" not in printed


def test_the_console_script_is_declared_and_installed_by_make():
    project = tomllib.loads((CLIENT_SRC.parent / "pyproject.toml").read_text())["project"]
    assert project["scripts"] == {"rtjobs": "rtjobs.cli:main"}
    assert project["dependencies"] == ["websockets>=13"]
    from rtjobs.cli import main

    assert callable(main)
    makefile = (ROOT / "Makefile").read_text()
    assert makefile.count("-e clients/python") == 2
    assert makefile.count(".installed: pyproject.toml clients/python/pyproject.toml") == 2
