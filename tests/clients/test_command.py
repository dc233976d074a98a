"""`rtjobs` in its own process against a real daphne: exports downloaded and opened, the exit
status of every ending, refused tokens, no server, and the socket lost mid-wait."""

from __future__ import annotations

import re
import shutil
import signal

import openpyxl

from exports.models import ClaimStatus
from tests.clients.conftest import Running, command_env, rtjobs
from tests.exports.factories import make_accidents
from tests.services import free_port

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def demo_job(server, token, **body) -> str:
    from rtjobs import Client

    return Client(server.url, token).request("POST", "/api/demo-jobs/", body)["job"]["id"]


def is_progress(line: str) -> bool:
    return line.startswith("running ") and "/" in line


def test_start_wait_download_an_xlsx_export(server, token, tmp_path):
    make_accidents(7, status=ClaimStatus.OPEN)
    make_accidents(3, status=ClaimStatus.PAID)
    target = tmp_path / "claims.xlsx"
    run = rtjobs("start", "export", "accident", "--format", "xlsx", "--filter", "status=open",
                 "--wait", "--download", str(target), env=command_env(server, token))
    assert run.returncode == 0, run.stderr
    job_id, path = run.stdout.splitlines()
    assert UUID.fullmatch(job_id) and path == str(target)
    rows = list(openpyxl.load_workbook(target, read_only=True).active.iter_rows(values_only=True))
    assert len(rows) == 1 + 7  # the header, then the open claims
    assert run.stderr.splitlines()[-1].startswith("succeeded: 7/7  100.0%")
    assert "\r" not in run.stdout + run.stderr and "\x1b" not in run.stderr  # piped: plain
    listed = rtjobs("list", env=command_env(server, token)).stdout.splitlines()
    assert listed[0].startswith(f"{job_id}  succeeded") and listed[0].endswith(
        "  (Status: Open)")  # the filters, in the card's words


def test_start_without_wait_prints_the_id_alone_then_watch_and_download(server, token,
                                                                        tmp_path):
    make_accidents(4)
    env = command_env(server, token)
    run = rtjobs("start", "export", "accident", "--format", "csv", env=env)
    assert run.returncode == 0 and run.stderr == ""
    assert UUID.fullmatch(run.stdout.rstrip("\n")) and run.stdout.count("\n") == 1
    job_id = run.stdout.strip()
    watched = rtjobs("watch", job_id, env=env)
    assert watched.returncode == 0 and watched.stderr.splitlines()[-1].startswith("succeeded")
    saved = rtjobs("download", job_id, "-o", str(tmp_path), env=env)
    assert saved.returncode == 0, saved.stderr
    path = saved.stdout.strip()
    assert re.fullmatch(rf"{tmp_path}/accident-claims-\d{{8}}-\d{{4}}\.csv", path)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        assert len(handle.read().splitlines()) >= 1 + 4  # some values hold line breaks
    listed = rtjobs("list", env=env)
    assert listed.returncode == 0 and listed.stdout.startswith(f"{job_id}  succeeded")


def test_an_export_that_fails_exits_1(server, token):
    """The server's export scratch folder is a file: the job itself fails (not the start)."""
    make_accidents(2)
    shutil.rmtree(server.export_tmp, ignore_errors=True)
    server.export_tmp.write_text("not a folder")
    try:
        run = rtjobs("start", "export", "accident", "--wait", env=command_env(server, token))
    finally:
        server.export_tmp.unlink()
    assert run.returncode == 1, run.stderr
    last = run.stderr.splitlines()[-1]
    assert last.startswith("failed: ") and "FileExistsError" in last


def test_a_crashing_job_exits_1_under_watch(server, token):
    job_id = demo_job(server, token, steps=3, delay=0.01, crash_at=2)
    run = rtjobs("watch", job_id, env=command_env(server, token))
    assert run.returncode == 1 and "demo crash at step 2" in run.stderr


def test_cancel_from_a_second_process_ends_the_waiting_one_with_3(server, token):
    env = command_env(server, token)
    job_id = demo_job(server, token, steps=2000, delay=0.05)
    waiting = Running("watch", job_id, env=env)
    try:
        waiting.wait_line(is_progress)
        cancel = rtjobs("cancel", job_id, env=env)
        assert cancel.returncode == 0, cancel.stderr
        assert cancel.stderr.startswith(("running: Cancelling", "cancelled"))
        code, _out, err = waiting.finish()
    finally:
        waiting.kill()
    assert code == 3 and err.splitlines()[-1].startswith("cancelled: ")


def test_a_bad_token_exits_2_with_the_servers_sentence(server, holder):
    bad = "rtj_00000000_" + "0" * 48
    for args in (("list",), ("start", "export", "accident"),
                 ("watch", "8b0c0000-0000-4000-8000-000000000000")):
        run = rtjobs(*args, env=command_env(server, bad))
        assert (run.returncode, run.stderr) == (2, "rtjobs: This access token is not valid.\n")


def test_a_token_without_the_start_scope_exits_2_naming_it(server, holder):
    from tokens.services import token_create

    read_only = token_create(user=holder, scopes=["read"])[1]
    run = rtjobs("start", "export", "accident", env=command_env(server, read_only))
    assert run.returncode == 2 and "lacks the `start` scope" in run.stderr


def test_a_token_revoked_while_waiting_exits_2(server, holder):
    from tokens.models import AccessToken
    from tokens.services import token_create, token_revoke

    text = token_create(user=holder)[1]
    job_id = demo_job(server, text, steps=2000, delay=0.05)
    waiting = Running("watch", job_id, env=command_env(server, text))
    try:
        waiting.wait_line(is_progress)
        token_revoke(token_id=AccessToken.objects.get(user=holder).pk)
        # The in-process layer of that server does not hear this process: its socket
        # recheck (JOBS_WS_RECHECK, 5 s) closes with 4401.
        code, _out, err = waiting.finish(timeout=30)
    finally:
        waiting.kill()
        demo_cancel(job_id)
    assert code == 2 and err.splitlines()[-1] == "rtjobs: This access token was revoked."


def demo_cancel(job_id: str) -> None:
    from jobs.models import Job
    from jobs.services import job_cancel

    job = Job.objects.filter(pk=job_id).first()
    if job is not None and job.status in ("queued", "running"):
        job_cancel(job_id=job.pk)


def test_usage_errors_exit_2(server, token):
    env = command_env(server, token)
    cases = {
        ("start", "export"): "the following arguments are required: CLAIM_TYPE",
        ("start", "export", "accident", "--format", "ods"): "invalid choice: 'ods'",
        ("start", "export", "accident", "--filter", "status"): "--filter takes LOOKUP=VALUE",
        ("start", "export", "accident", "--filter", "colour=red"): "not allowed",
        ("start", "export", "nosuch"): "claim",
        ("watch", "12"): "Not a job id",
        ("--url", f"{server.url}/?token={token}", "list"): "never in the URL",
    }
    for args, sentence in cases.items():
        run = rtjobs(*args, env=env)
        assert run.returncode == 2, (args, run.stderr)
        assert sentence.lower() in run.stderr.lower() and run.stderr.count("\n") == 1, run.stderr
    missing = rtjobs("list", env=command_env(server, None))
    assert (missing.returncode, missing.stderr) == (
        2, "rtjobs: No access token: set JOBS_TOKEN (or pass --token).\n")


def test_no_server_exits_4(token):
    run = rtjobs("--url", f"http://127.0.0.1:{free_port()}", "list",
                 env=command_env(None, token))
    assert run.returncode == 4
    assert run.stderr.startswith("rtjobs: Cannot reach http://127.0.0.1:") and \
        run.stderr.count("\n") == 1


def test_a_server_restarted_mid_wait_ends_the_command_with_interrupted(server, token):
    job_id = demo_job(server, token, steps=2000, delay=0.05)
    waiting = Running("watch", job_id, env=command_env(server, token))
    try:
        waiting.wait_line(is_progress)
        server.restart()  # SIGTERM: the job is marked interrupted
        code, _out, err = waiting.finish()
    finally:
        waiting.kill()
    assert code == 3 and err.splitlines()[-1].startswith("interrupted: "), err


def test_a_killed_server_the_command_reconnects_and_resyncs_from_the_snapshot(server, token):
    """kill -9: no final push. The command reconnects to the next server, whose sweep marks
    the dead server's job interrupted (JOBS_STALE_AFTER=2 here)."""
    job_id = demo_job(server, token, steps=2000, delay=0.05)
    waiting = Running("watch", job_id, env=command_env(server, token))
    try:
        waiting.wait_line(is_progress)
        server.stop(signal.SIGKILL)
        waiting.wait_line(lambda line: line.startswith("connection lost"))
        server.start()
        waiting.wait_line(lambda line: line == "reconnected\n")
        code, _out, err = waiting.finish()
    finally:
        waiting.kill()
    assert code == 3 and err.splitlines()[-1].startswith("interrupted: "), err
    after = err[err.index("reconnected\n"):]
    assert "no heartbeat" in after and "no heartbeat" not in err[:err.index("reconnected\n")]


def test_a_campaign_then_a_second_one_only_with_include_recent(server, transactional_db):
    from tests.campaigns.factories import make_audience
    from tokens.services import token_create

    owner, agreement, _emails = make_audience(3, owner_email="owner@example.test")
    env = command_env(server, token_create(user=owner)[1])
    first = rtjobs("start", "campaign", agreement.slug, "--wait", env=env)
    assert first.returncode == 0, first.stderr
    assert first.stderr.splitlines()[-1].startswith("succeeded: 3/3  100.0%")
    again = rtjobs("start", "campaign", agreement.slug, "--wait", env=env)
    assert again.returncode == 2 and again.stdout == ""
    assert again.stderr.startswith("rtjobs: ") and again.stderr.endswith("(HTTP 409)\n")
    forced = rtjobs("start", "campaign", agreement.slug, "--include-recent", "--wait", env=env)
    assert forced.returncode == 0 and forced.stderr.splitlines()[-1].startswith("succeeded: 3/3")


def test_ctrl_c_while_waiting_exits_3_and_leaves_the_job_running(server, token):
    from jobs.models import Job

    job_id = demo_job(server, token, steps=2000, delay=0.05)
    waiting = Running("watch", job_id, env=command_env(server, token))
    try:
        waiting.wait_line(is_progress)
        waiting.process.send_signal(signal.SIGINT)
        code, _out, err = waiting.finish()
    finally:
        waiting.kill()
    assert code == 3 and f"goes on on the server (`rtjobs watch {job_id}`" in err
    assert Job.objects.get(pk=job_id).status == "running"
    demo_cancel(job_id)
