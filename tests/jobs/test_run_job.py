"""manage.py run_job: a job in the foreground, its progress on the terminal, its exit status."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from jobs.management.commands.run_job import ProgressLine
from jobs.models import Job, JobStatus
from tests.factories import make_user
from tests.services import ROOT


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("run_job", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_demo_runs_in_the_calling_thread_with_plain_progress(transactional_db):
    user = make_user(staff=True)
    out, _ = run("demo", "--steps", "6", "--delay", "0", "--user", user.username)
    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.SUCCEEDED and job.done == 6 and job.total == 6
    assert job.worker_id  # it ran here, not in a server's pool
    assert f"job {job.pk}" in out
    assert "100.0% 6/6" in out and "succeeded" in out
    assert "\r" not in out  # not a TTY: plain lines


def test_export_csv_with_filters_and_output(transactional_db, tmp_path, settings):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    call_command("load_demo_claims", count=400, types="theft", verbosity=0)
    from exports.models import TheftClaim

    wanted = TheftClaim.objects.filter(status="open").count()
    user = make_user(staff=True)
    target = tmp_path / "open-thefts.csv"
    out, _ = run("export", "theft", "--format", "csv", "--filter", "status=open",
                 "--output", str(target), "--user", user.username)
    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.SUCCEEDED
    assert job.params["filters"] == {"status": "open"}
    with target.open(newline="", encoding="utf-8-sig") as handle:
        assert sum(1 for _ in csv.reader(handle)) == wanted + 1
    assert f"Copied to {target}" in out


def test_bad_input_is_a_usage_error(transactional_db):
    user = make_user(staff=True)
    clerk = make_user(staff=False)
    with pytest.raises(CommandError, match="Choices: accident"):
        run("export", "nope", "--user", user.username)
    with pytest.raises(CommandError, match="not an active staff member"):
        run("demo", "--user", clerk.username)
    with pytest.raises(CommandError, match="No agreement"):
        run("campaign", "no-such-agreement", "--user", user.username)
    with pytest.raises(CommandError, match=r"steps must be 1\.\.100,000, delay 0\.\.5\."):
        run("demo", "--steps", "0", "--user", user.username)
    assert not Job.objects.exists()


def test_exit_status_is_non_zero_when_the_job_fails(transactional_db, tmp_path):
    """A real process, as cron runs it: the export cannot save its file, so it fails."""
    user = make_user(staff=True)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the media folder should be")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DJANGO_VAR_DIR": str(tmp_path / "var"),
        "MEDIA_ROOT": str(blocker / "media"),
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "run_job", "export", "accident", "--user", user.username],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert "failed" in result.stderr
    assert Job.objects.get(owner=user).status == JobStatus.FAILED

    usage = subprocess.run(
        [sys.executable, "manage.py", "run_job", "export", "nope", "--user", user.username],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert usage.returncode == 2, usage.stderr


def test_progress_line_on_a_terminal_redraws_one_line():
    stream = io.StringIO()
    line = ProgressLine(stream, tty=True)
    snap = {"title": "T", "status": "running", "done": 50, "failed": 2, "total": 200,
            "percent": 26.0, "rate": 1000.0, "eta_seconds": 0.15}
    line.draw(snap)
    line.draw({**snap, "done": 198, "percent": 100.0, "status": "succeeded"}, final=True)
    text = stream.getvalue()
    assert text.count("\r\x1b[2K") == 2 and text.endswith("\n")
    assert "50/200 failed 2 1,000/s ETA 0s running" in text
    assert "█" in text and "░" in text


def _interrupted(args: list[str], env: dict[str, str], *, ready: str) -> tuple[int, str]:
    """Run `manage.py run_job ARGS` as a shell does, press Ctrl-C once a stdout line contains
    `ready` (the job runs), and return the exit status and stderr."""
    command = subprocess.Popen(
        [sys.executable, "manage.py", "run_job", *args, "--plain"], cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
             "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in command.stdout:  # each line is an event the command wrote
            lines.append(line)
            if ready in line:
                break
        assert command.poll() is None, "".join(lines) + command.stderr.read()
        command.send_signal(signal.SIGINT)
        _out, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
    return command.returncode, err


def _env(tmp_path) -> dict[str, str]:
    return {"DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
            "DJANGO_VAR_DIR": str(tmp_path / "var"), "MEDIA_ROOT": str(tmp_path / "media")}


def test_ctrl_c_of_an_export_says_retry_as_the_dashboard_does(transactional_db, tmp_path):
    """The dashboard offers an interrupted export *Retry*, not *Resume*: the sentence says so."""
    call_command("load_demo_claims", count=30000, types="accident", verbosity=0)
    user = make_user(staff=True)
    # openpyxl (≈6,600 rows/s) keeps 30,000 rows busy for seconds: Ctrl-C lands mid-export.
    env = {**_env(tmp_path), "EXPORT_XLSX_ENGINE": "openpyxl", "EXPORT_CHUNK_SIZE": "500"}
    code, err = _interrupted(["export", "accident", "--user", user.username], env,
                             ready="running")
    assert code == 130, err
    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.INTERRUPTED and job.resumable
    assert ("; retry it from the dashboard: its Retry button runs the same export again from "
            "the start.") in err, err
    assert "resumed" not in err


def test_ctrl_c_of_a_demo_job_says_it_cannot_be_resumed(transactional_db, tmp_path):
    user = make_user(staff=True)
    code, err = _interrupted(["demo", "--steps", "400", "--delay", "0.05", "--user",
                              user.username], _env(tmp_path), ready="running")
    assert code == 130, err
    job = Job.objects.get(owner=user)
    assert job.status == JobStatus.INTERRUPTED and not job.resumable
    assert f"Interrupted after {job.done:,} done, 0 failed of 400; demo jobs cannot be " \
           "resumed; run the command again to start over." in err, err
    assert "dashboard" not in err
