"""The runner: real pool threads, on-commit start, failure and cancel paths."""

from __future__ import annotations

import threading

import pytest

from jobs import kinds
from jobs.kinds import JobKind, JobOutcome
from jobs.models import Job, JobStatus
from jobs.runner import execute, runner
from jobs.services import JobAlreadyFinished, job_cancel, job_start
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def owner():
    return make_user()


@pytest.fixture
def kind():
    """Register throwaway job kinds for one test."""
    names = []

    def add(name, run, **hooks):
        kinds.register(JobKind(name=name, run=run, **hooks))
        names.append(name)
        return name

    yield add
    for name in names:
        kinds.unregister(name)


def wait(job_id) -> None:
    future = runner.futures.get(str(job_id))
    if future is not None:
        future.result(timeout=20)


def test_job_starts_on_commit_in_a_pool_thread(owner, kind):
    seen = {}

    def run(job, reporter):
        seen["thread"] = threading.current_thread().name
        reporter.set_total(3)
        reporter.advance(3)
        return JobOutcome(message="three", data={"answer": 42})

    job = job_start(kind=kind("t-ok", run), owner_id=owner.pk, title="ok")
    wait(job.pk)
    job.refresh_from_db()
    assert seen["thread"].startswith("job")
    assert (job.status, job.done, job.total, job.message) == ("succeeded", 3, 3, "three")
    assert job.result == {"answer": 42} and job.finished_at and job.started_at


def test_not_started_before_commit(owner, kind):
    from django.db import transaction

    started = threading.Event()
    name = kind("t-commit", lambda job, reporter: started.set())
    with transaction.atomic():
        job = job_start(kind=name, owner_id=owner.pk, title="later")
        assert str(job.pk) not in runner.futures
    wait(job.pk)
    assert started.is_set()


def test_exception_becomes_failed_with_the_error_and_the_end_hook(owner, kind, caplog):
    cleaned = []

    def run(job, reporter):
        reporter.advance()
        raise ValueError("disk on fire")

    name = kind("t-fail", run, on_end=lambda job, notes: cleaned.append((job.pk, job.status)))
    job = job_start(kind=name, owner_id=owner.pk, title="boom")
    wait(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error == "ValueError: disk on fire"
    assert cleaned == [(job.pk, JobStatus.FAILED)]  # once, and after the row was final
    assert "disk on fire" in caplog.text


def test_cooperative_cancel(owner, kind):
    running = threading.Event()
    release = threading.Event()

    def run(job, reporter):
        reporter.set_total(1000)
        running.set()
        release.wait(10)
        for _ in range(1000):
            reporter.check_cancelled()
            reporter.advance()
        return JobOutcome()

    job = job_start(kind=kind("t-cancel", run), owner_id=owner.pk, title="long")
    assert running.wait(10)
    assert job_cancel(job_id=job.pk).cancel_requested
    release.set()
    wait(job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED
    assert job.done < 1000
    with pytest.raises(JobAlreadyFinished):
        job_cancel(job_id=job.pk)


def test_cancel_while_queued_never_runs(owner, kind):
    ran = []
    name = kind("t-never", lambda job, reporter: ran.append(1))
    job = Job.objects.create(kind=name, title="q", owner=owner)
    job_cancel(job_id=job.pk)
    assert execute(str(job.pk)) is None
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELLED and ran == []


def test_unknown_kind_fails_cleanly(owner):
    job = Job.objects.create(kind="no-such-kind", title="?", owner=owner)
    assert execute(str(job.pk)) == JobStatus.FAILED
    job.refresh_from_db()
    assert "Unknown job kind" in job.error


def test_queued_jobs_are_served_by_owner_in_turn(owner, kind, settings):
    """One user's queue of jobs does not hold back another user's job."""
    settings.JOBS_WORKERS = 1
    other = make_user()
    started = []
    busy = threading.Event()
    gate = threading.Event()

    def run(job, reporter):
        started.append(job.title)
        if job.title == "a0":
            busy.set()
            assert gate.wait(10)

    name = kind("t-fair", run)
    first = job_start(kind=name, owner_id=owner.pk, title="a0")
    assert busy.wait(10)  # the one thread is busy with a0 from here on
    jobs = [job_start(kind=name, owner_id=owner.pk, title=f"a{n}") for n in (1, 2, 3)]
    jobs.append(job_start(kind=name, owner_id=other.pk, title="b1"))
    gate.set()
    for job in [first, *jobs]:
        wait(job.pk)
    assert started == ["a0", "a1", "b1", "a2", "a3"]


def test_the_fair_queue_takes_owners_round_robin():
    from concurrent.futures import Future

    from jobs.runner import FairQueue

    queue = FairQueue()
    for owner, n in [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("c", 1), ("b", 2)]:
        queue.put(owner, (f"{owner}{n}", Future()))
    order = [queue.pop()[0] for _ in range(len(queue))]
    assert order == ["a1", "b1", "c1", "a2", "b2", "a3"] and queue.pop() is None
