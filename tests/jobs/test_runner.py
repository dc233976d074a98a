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


# --- every ending writes the kind's true counts (JobKind.counts) ---------------------------
class Ledger:
    """What a kind records itself (a campaign's recipient rows): the truth the row must get,
    whatever the Reporter last flushed."""

    def __init__(self):
        self.counts = {}
        self.seen_by_end_hook = {}

    def set(self, job, done, failed=0):
        self.counts[str(job.pk)] = {"done": done, "failed": failed}

    def tally(self, job):
        return self.counts.get(str(job.pk), {"done": 0, "failed": 0})

    def on_end(self, job, notes):
        self.seen_by_end_hook[str(job.pk)] = (job.status, job.done, job.failed)


@pytest.fixture
def ledger():
    return Ledger()


@pytest.mark.parametrize("ending", ["succeeded", "failed", "cancelled"])
def test_each_ending_of_the_runner_writes_the_tally(owner, kind, ledger, ending, settings):
    settings.JOBS_PROGRESS_INTERVAL = 3600  # nothing but the ending writes counts

    def run(job, reporter):
        reporter.set_total(10)
        reporter.advance(3)  # the Reporter counted 3 (not flushed)...
        ledger.set(job, 7, 2)  # ...the kind's own records say 7 done, 2 failed
        if ending == "failed":
            raise RuntimeError("boom")
        if ending == "cancelled":
            job_cancel(job_id=job.pk)
            reporter._last_cancel_check = None  # read the flag now, not in an hour
            reporter.check_cancelled()
        return JobOutcome()

    name = kind(f"t-tally-{ending}", run, counts=ledger.tally, on_end=ledger.on_end)
    job = job_start(kind=name, owner_id=owner.pk, title="tally")
    wait(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == (ending, 7, 2)
    assert ledger.seen_by_end_hook[str(job.pk)] == (ending, 7, 2)


def test_a_job_interrupted_while_its_code_runs_gets_the_final_tally(owner, kind, ledger):
    """A shutdown marks the job interrupted with the counts of that moment; the code goes on
    to its next report, and the row then gets the final counts before the end hook runs."""
    from jobs.services import job_interrupt

    def run(job, reporter):
        reporter.set_total(10)
        ledger.set(job, 4)
        job_interrupt(job_id=job.pk, reason="server stopping")
        assert Job.objects.get(pk=job.pk).done == 4  # the tally of that moment
        ledger.set(job, 6, 1)  # in-flight work completes
        reporter.set_total(10)  # the next report: JobStopped

    name = kind("t-tally-stopped", run, counts=ledger.tally, on_end=ledger.on_end)
    job = job_start(kind=name, owner_id=owner.pk, title="tally")
    wait(job.pk)
    job.refresh_from_db()
    assert (job.status, job.done, job.failed) == ("interrupted", 6, 1)
    assert ledger.seen_by_end_hook[str(job.pk)] == ("interrupted", 6, 1)


def test_endings_without_a_thread_write_the_tally(owner, kind, ledger):
    """A queued job cancelled, and a job whose process died (the stale sweep)."""
    from jobs.services import job_interrupt

    name = kind("t-tally-queued", lambda job, reporter: None, counts=ledger.tally,
                on_end=ledger.on_end)
    cancelled = Job.objects.create(kind=name, title="q1", owner=owner)  # no thread runs them
    dead = Job.objects.create(kind=name, title="q2", owner=owner)
    ledger.set(cancelled, 2)
    ledger.set(dead, 5, 3)
    assert job_cancel(job_id=cancelled.pk).done == 2
    dead = job_interrupt(job_id=dead.pk, reason="no heartbeat")
    assert (dead.done, dead.failed) == (5, 3)
    assert ledger.seen_by_end_hook[str(cancelled.pk)] == ("cancelled", 2, 0)
    assert ledger.seen_by_end_hook[str(dead.pk)] == ("interrupted", 5, 3)
