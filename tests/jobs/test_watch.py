"""A job run by `manage.py run_job` in another process shows live on the embedded default.

The in-process channel layer cannot carry another process's pushes: the server reads the job
rows other processes change, once a second (jobs/watch.py), and pushes them. A real daphne on
the embedded default, a real WebSocket client, a real `run_job demo` subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from jobs.models import Job
from jobs.pushed import pushed
from jobs.watch import Watcher
from tests.factories import PASSWORD, make_user
from tests.live import LiveClient, job_finished
from tests.services import ROOT

pytestmark = pytest.mark.django_db(transaction=True)


def _run_job_env(tmp_path) -> dict[str, str]:
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
            "PYTHONUNBUFFERED": "1",
            "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
            "DJANGO_VAR_DIR": str(tmp_path), "MEDIA_ROOT": str(tmp_path / "media")}


def test_a_run_job_in_a_shell_shows_live_on_the_embedded_default(server_inmemory, staff_user,
                                                                  tmp_path):
    client = LiveClient(server_inmemory.url).login(staff_user.username, PASSWORD)
    ws = client.websocket()
    assert ws.recv()["type"] == "jobs.snapshot"
    # Another staff member watching at the same time: the shell's job is not theirs.
    other = LiveClient(server_inmemory.url).login(make_user(staff=True).username, PASSWORD)
    their_ws = other.websocket()
    assert their_ws.recv()["type"] == "jobs.snapshot"
    command = subprocess.Popen(
        [sys.executable, "manage.py", "run_job", "demo", "--steps", "60", "--delay", "0.1",
         "--user", staff_user.username, "--plain"],
        cwd=ROOT, env=_run_job_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        first = ws.recv_until(lambda m: m["type"] == "job.update"
                              and m["job"]["kind"] == "demo" and m["job"]["done"] > 0,
                              timeout=30)
        # Live: the shell's job is still running when its progress reaches the socket.
        assert command.poll() is None, "the update came only after the command ended"
        job_id = first["job"]["id"]
        final = ws.recv_until(job_finished(job_id), timeout=30)
        out, err = command.communicate(timeout=30)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 0, out + err
    assert final["job"]["status"] == "succeeded" and final["job"]["done"] == 60
    running = [job for _t, job in ws.updates_for(job_id) if job["status"] == "running"]
    dones = [job["done"] for job in running]
    # About one update a second over a 6 s run, each newer than the last, on the one socket.
    assert len(running) >= 3 and dones == sorted(dones) and dones[0] < dones[-1], dones
    versions = [job["version"] for _t, job in ws.updates_for(job_id)]
    assert versions == sorted(set(versions)), versions
    assert final["job"]["version"] == Job.objects.get(pk=job_id).version
    their_ws.send({"action": "sync"})
    their_ws.recv_until(lambda m: m["type"] == "jobs.snapshot")
    assert job_id not in json.dumps([m for _t, m in their_ws.received])
    for socket in (ws, their_ws):
        socket.close()
    client.close()
    other.close()


def test_the_watcher_pushes_only_what_this_process_did_not(staff_user):
    """Unit of the chore: rows changed elsewhere are pushed once per version, rows this
    process pushed are not pushed again, and the first look does not replay history."""
    sent: list[dict] = []

    class Recorder:
        def send(self, group, message):
            sent.append(message)
            return True

    from jobs import publish

    old = Job.objects.create(kind="demo", owner=staff_user, title="before")
    watcher = Watcher()
    original = publish.default_broadcaster
    publish.default_broadcaster = Recorder()
    try:
        assert watcher.tick() == 0  # the first look only notes where the table is
        elsewhere = Job.objects.create(kind="demo", owner=staff_user, title="elsewhere")
        assert watcher.tick() == 1 and len(sent) == 1
        assert watcher.tick() == 0  # same version: not again
        Job.objects.filter(pk=elsewhere.pk).update(
            done=3, version=elsewhere.version + 1, updated_at=timezone.now())
        assert watcher.tick() == 1
        # A change made here goes through transition, which pushes and notes the version.
        mine = Job.objects.transition(old.pk, done=1, sender=Recorder())
        assert pushed.mine(mine.pk, mine.version)
        assert watcher.tick() == 0
        # Older than the overlap: not read again (cheap: the query returns recent rows only).
        Job.objects.filter(pk=old.pk).update(
            version=mine.version + 1, updated_at=timezone.now() - timedelta(seconds=60))
        assert watcher.tick() == 0
    finally:
        publish.default_broadcaster = original
    assert len(sent) == 3


def test_no_watcher_without_the_in_process_layer(settings):
    from jobs import watch

    redis = "channels_redis.pubsub.RedisPubSubChannelLayer"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": redis}}
    assert not watch.needed()
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert watch.needed()
    settings.JOBS_WATCH_INTERVAL = 0
    assert not watch.needed()
