"""The Reporter's throttling and coalescing, with a fake clock (no sleeps)."""

from __future__ import annotations

import itertools
import json

import pytest

from jobs.models import Job, JobStatus
from jobs.progress import JobCancelled, JobStopped, Reporter
from tests.factories import make_user


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += seconds


class RecordingSender:
    """Stands in for the channel layer (what leaves the process); records each send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    def send(self, group: str, message: dict) -> bool:
        self.sent.append((group, message))
        return True

    @property
    def jobs(self) -> list[dict]:
        return [json.loads(message["frame"])["job"] for _, message in self.sent]


@pytest.fixture
def running_job(db):
    owner = make_user()
    return Job.objects.create(kind="demo", title="t", owner=owner, status=JobStatus.RUNNING)


@pytest.fixture
def parts(running_job):
    clock, sender = FakeClock(), RecordingSender()
    reporter = Reporter(running_job, interval=0.2, clock=clock, sender=sender)
    return reporter, clock, sender


def test_first_call_is_sent_at_once_then_coalesced(parts, running_job):
    reporter, clock, sender = parts
    reporter.advance()
    assert [job["done"] for job in sender.jobs] == [1]
    for _ in range(50):  # 50 calls inside one interval: nothing sent
        clock.tick(0.001)
        reporter.advance()
    assert len(sender.sent) == 1
    clock.tick(0.2)
    reporter.advance()  # the interval passed: the latest state wins
    assert [job["done"] for job in sender.jobs] == [1, 52]
    assert Job.objects.get(pk=running_job.pk).done == 52


def test_at_most_one_send_per_interval(parts):
    reporter, clock, sender = parts
    sent_at = []
    for _ in range(1000):  # 10 simulated seconds at 100 calls/s
        clock.tick(0.01)
        before = len(sender.sent)
        reporter.advance()
        if len(sender.sent) > before:
            sent_at.append(clock.now)
    assert 45 <= len(sender.sent) <= 51
    gaps = [b - a for a, b in itertools.pairwise(sent_at)]
    assert min(gaps) >= 0.2 - 1e-9


def test_versions_grow_and_group_is_the_owners(parts, running_job):
    reporter, clock, sender = parts
    for _ in range(5):
        reporter.advance()
        clock.tick(0.3)
    versions = [job["version"] for job in sender.jobs]
    assert versions == sorted(set(versions))
    assert {group for group, _ in sender.sent} == {f"jobs.user.{running_job.owner_id}"}
    assert {message["type"] for _, message in sender.sent} == {"job.update"}


def test_set_total_and_final_state_are_always_sent(parts, running_job):
    reporter, clock, sender = parts
    reporter.advance()
    reporter.set_total(10)  # inside the interval, still sent
    assert sender.jobs[-1]["total"] == 10
    reporter.advance(8)
    reporter.fail_item(reason="bad address")
    assert len(sender.sent) == 2  # coalesced
    snapshot = reporter.finish(JobStatus.SUCCEEDED, message="Done")
    assert len(sender.sent) == 3
    final = sender.jobs[-1]
    assert final == snapshot
    assert (final["status"], final["done"], final["failed"], final["total"]) == (
        "succeeded", 9, 1, 10)
    row = Job.objects.get(pk=running_job.pk)  # persisted before it was pushed
    assert row.status == JobStatus.SUCCEEDED and row.version == final["version"]


def test_flush_without_change_sends_nothing(parts):
    reporter, clock, sender = parts
    reporter.advance()
    clock.tick(1)
    reporter.flush()
    assert len(sender.sent) == 1


def test_check_cancelled_reads_the_flag_at_most_once_per_interval(parts, running_job,
                                                                  django_assert_num_queries):
    reporter, clock, sender = parts
    reporter.check_cancelled()
    Job.objects.filter(pk=running_job.pk).update(cancel_requested=True)
    with django_assert_num_queries(0):
        reporter.check_cancelled()  # within the interval: no query, not seen yet
    clock.tick(0.25)
    with pytest.raises(JobCancelled):
        reporter.check_cancelled()
    with pytest.raises(JobCancelled), django_assert_num_queries(0):
        reporter.check_cancelled()  # remembered


def test_a_job_finalized_elsewhere_stops_the_reporter(parts, running_job):
    reporter, clock, sender = parts
    Job.objects.filter(pk=running_job.pk).update(status=JobStatus.INTERRUPTED)
    with pytest.raises(JobStopped):
        reporter.advance()
    assert reporter.finish(JobStatus.SUCCEEDED) is None  # terminal is final
    assert Job.objects.get(pk=running_job.pk).status == JobStatus.INTERRUPTED
    assert sender.sent == []
