"""The one primitive for job state (JobQuerySet.transition) and the end-of-job hook."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from jobs import kinds
from jobs.kinds import JobKind, JobOutcome
from jobs.models import Job, JobStatus
from jobs.runner import execute
from jobs.services import JobNotResumable, job_cancel, job_interrupt, job_resume
from tests.factories import make_user


class ReadingSender:
    """Stands in for the channel layer; at each push it reads the row back from the database."""

    def __init__(self) -> None:
        self.pushed: list[dict] = []
        self.stored_versions: list[int] = []

    def send(self, group: str, message: dict) -> bool:
        job = json.loads(message["frame"])["job"]
        self.pushed.append(job)
        self.stored_versions.append(Job.objects.get(pk=job["id"]).version)
        return True


@pytest.fixture
def owner(db):
    return make_user()


@pytest.fixture
def throwaway_kind():
    names = []

    def add(**fields):
        kind = JobKind(**fields)
        kinds.register(kind)
        names.append(kind.name)
        return kind.name

    yield add
    for name in names:
        kinds.unregister(name)


def test_each_change_bumps_the_version_once_and_is_stored_before_it_is_pushed(owner):
    job = Job.objects.create(kind="demo", title="t", owner=owner)
    sender = ReadingSender()
    before = Job.objects.get(pk=job.pk).updated_at
    running = Job.objects.queued().transition(job.pk, sender=sender, status=JobStatus.RUNNING)
    progressed = Job.objects.running().transition(job.pk, sender=sender, done=5)
    assert [running.version, progressed.version] == [2, 3]
    assert progressed.updated_at > before
    assert [j["version"] for j in sender.pushed] == [2, 3]
    assert sender.stored_versions == [2, 3]  # the database had it when it was pushed
    assert progressed.pushed_snapshot == sender.pushed[-1]


def test_a_change_whose_condition_no_longer_holds_changes_nothing(owner):
    job = Job.objects.create(kind="demo", title="t", owner=owner)
    sender = ReadingSender()
    assert Job.objects.queued().transition(job.pk, sender=sender, status=JobStatus.RUNNING)
    # A second claim (another thread, another server) loses: no write, no push.
    assert Job.objects.queued().transition(job.pk, sender=sender, status=JobStatus.RUNNING) \
        is None
    assert Job.objects.get(pk=job.pk).version == 2 and len(sender.pushed) == 1


def test_on_commit_pushes_only_what_was_committed(owner, transactional_db):
    job = Job.objects.create(kind="demo", title="t", owner=owner)
    sender = ReadingSender()
    with transaction.atomic():
        Job.objects.transition(job.pk, sender=sender, publish="on_commit", message="kept")
        assert sender.pushed == []
    assert [j["message"] for j in sender.pushed] == ["kept"]
    with transaction.atomic():
        Job.objects.transition(job.pk, sender=sender, publish="on_commit", message="gone")
        transaction.set_rollback(True)
    assert len(sender.pushed) == 1 and Job.objects.get(pk=job.pk).message == "kept"


def test_the_heartbeat_is_not_a_change_clients_see(owner):
    job = Job.objects.create(kind="demo", title="t", owner=owner, status=JobStatus.RUNNING,
                             heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert Job.objects.filter(pk=job.pk).beat() == 1
    fresh = Job.objects.get(pk=job.pk)
    assert fresh.version == job.version and fresh.heartbeat_at > job.heartbeat_at


def test_named_selections(owner):
    now = timezone.now()
    old = now - timedelta(minutes=5)
    queued_silent = Job.objects.create(kind="demo", title="a", owner=owner, heartbeat_at=None)
    running_old = Job.objects.create(kind="demo", title="b", owner=owner, worker_id="w1",
                                     status=JobStatus.RUNNING, heartbeat_at=old)
    Job.objects.create(kind="demo", title="c", owner=owner, status=JobStatus.RUNNING,
                       heartbeat_at=now, worker_id="w2")
    Job.objects.create(kind="demo", title="d", owner=owner, status=JobStatus.FAILED,
                       heartbeat_at=old)
    stale = set(Job.objects.stale(now - timedelta(seconds=40)))
    assert stale == {queued_silent, running_old}
    assert set(Job.objects.active().of_worker("w1")) == {running_old}
    assert Job.objects.terminal().count() == 1 and Job.objects.active().count() == 3


def test_the_kind_decides_at_the_ending_whether_a_job_can_be_resumed(owner, throwaway_kind):
    again = throwaway_kind(name="t-again", run=lambda job, r: None,
                           resume=lambda job, user_id: job)
    once = throwaway_kind(name="t-once", run=lambda job, r: None)
    rows = {}
    for name in (again, once):
        for status in (JobStatus.INTERRUPTED, JobStatus.SUCCEEDED):
            job = Job.objects.create(kind=name, title="t", owner=owner, status=JobStatus.RUNNING)
            rows[name, status] = Job.objects.transition(job.pk, status=status).resumable
    assert rows == {(again, JobStatus.INTERRUPTED): True, (again, JobStatus.SUCCEEDED): False,
                    (once, JobStatus.INTERRUPTED): False, (once, JobStatus.SUCCEEDED): False}


def test_a_resumed_job_is_resumable_no_more(owner, throwaway_kind, transactional_db):
    def resume(old, user_id):
        return Job.objects.create(kind=old.kind, title="again", owner_id=user_id,
                                  resumed_from=old)

    name = throwaway_kind(name="t-resume", run=lambda job, r: None, resume=resume)
    old = Job.objects.create(kind=name, title="t", owner=owner, status=JobStatus.RUNNING)
    old = Job.objects.transition(old.pk, status=JobStatus.FAILED)
    new = job_resume(job_id=old.pk, user_id=owner.pk)
    fresh = Job.objects.get(pk=old.pk)
    assert new.resumed_from_id == old.pk
    assert not fresh.resumable and fresh.version == old.version + 1
    with pytest.raises(JobNotResumable):
        job_resume(job_id=old.pk, user_id=owner.pk)


def test_the_end_hook_runs_once_per_ending_whoever_ends_it(owner, throwaway_kind,
                                                         transactional_db):
    ended = []
    inside = threading.Event()
    release = threading.Event()

    def run(job, reporter):
        inside.set()
        release.wait(10)
        reporter.advance()  # meets JobStopped: someone else ended the job
        return JobOutcome()

    name = throwaway_kind(name="t-end", run=run,
                          on_end=lambda job, notes: ended.append((job.pk, job.status)))
    # Cancelled while queued: no thread will ever run it, the cancel runs the hook.
    queued = Job.objects.create(kind=name, title="q", owner=owner)
    job_cancel(job_id=queued.pk)
    assert ended == [(queued.pk, JobStatus.CANCELLED)]
    # Interrupted while a thread of this process is inside its code: that thread runs the
    # hook once the code has stopped, not the interrupt.
    busy = Job.objects.create(kind=name, title="b", owner=owner)
    thread = threading.Thread(target=execute, args=(str(busy.pk),))
    thread.start()
    assert inside.wait(10)
    job_interrupt(job_id=busy.pk, reason="test")
    assert len(ended) == 1
    release.set()
    thread.join(10)
    assert ended == [(queued.pk, JobStatus.CANCELLED), (busy.pk, JobStatus.INTERRUPTED)]
    # Interrupted with no thread here (its process is gone): the interrupt runs the hook.
    orphan = Job.objects.create(kind=name, title="o", owner=owner, status=JobStatus.RUNNING)
    job_interrupt(job_id=orphan.pk, reason="gone")
    assert ended[-1] == (orphan.pk, JobStatus.INTERRUPTED) and len(ended) == 3
