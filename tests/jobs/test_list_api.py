"""GET /api/jobs/ with filters and keyset paging, and the JOB fields resumed_by and file_size:
only the caller's own visible jobs, every bad value a 400 with a sentence, never a 500."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Job, JobStatus
from jobs.snapshot import job_snapshot
from tests.factories import make_user
from tests.jobs.test_snapshot import check_schema

pytestmark = pytest.mark.django_db

FINISHED = "succeeded,failed,cancelled,interrupted"


def client_of(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def make_jobs(owner, count, *, kind="demo", status=JobStatus.SUCCEEDED, title="Job {n}",
              start=None, **fields):
    """`count` jobs a minute apart (the newest last), created_at set by hand (auto_now_add)."""
    start = start or timezone.now() - timedelta(days=1)
    if kind == "export":  # an export is visible to who may export its claim type
        fields.setdefault("params", {"claim_type": "accident"})
    jobs = []
    for n in range(count):
        job = Job.objects.create(kind=kind, title=title.format(n=n), owner=owner, status=status,
                                 **fields)
        Job.objects.filter(pk=job.pk).update(created_at=start + timedelta(minutes=n))
        jobs.append(job)
    return jobs


def ids(answer) -> list[str]:
    return [job["id"] for job in answer.json()["jobs"]]


def test_without_parameters_it_is_the_recent_list_as_before(settings):
    settings.JOBS_RECENT_LIMIT = 5
    owner = make_user()
    jobs = make_jobs(owner, 7)
    answer = client_of(owner).get("/api/jobs/")
    assert answer.status_code == 200
    assert ids(answer) == [str(job.pk) for job in reversed(jobs)][:5]
    assert answer.json()["next_before"] == str(jobs[2].pk)
    for snap in answer.json()["jobs"]:
        check_schema(snap)


def test_keyset_pages_cover_every_job_once_even_when_new_jobs_arrive():
    owner = make_user()
    jobs = make_jobs(owner, 12)
    # Two jobs with the same created_at: the id breaks the tie, none is lost between pages.
    Job.objects.filter(pk=jobs[5].pk).update(
        created_at=Job.objects.get(pk=jobs[6].pk).created_at)
    client = client_of(owner)
    seen, before = [], None
    while True:
        query = {"limit": 5} | ({"before": before} if before else {})
        answer = client.get("/api/jobs/", query)
        assert answer.status_code == 200, answer.json()
        seen += ids(answer)
        before = answer.json()["next_before"]
        if len(seen) == 5:  # a new job arrives after the first page: not on the next ones
            make_jobs(owner, 1, start=timezone.now())
        if before is None:
            break
    assert sorted(seen) == sorted(str(job.pk) for job in jobs)
    assert len(seen) == len(set(seen))


def test_filters_by_kind_status_and_title():
    owner = make_user()
    make_jobs(owner, 3, kind="export", title="Accident claims export {n}")
    make_jobs(owner, 2, kind="campaign", title="Reminders: Terms v{n}",
              status=JobStatus.FAILED)
    make_jobs(owner, 2, kind="demo", status=JobStatus.RUNNING)
    client = client_of(owner)

    def titles(**query):
        answer = client.get("/api/jobs/", query)
        assert answer.status_code == 200, answer.json()
        return sorted(job["title"] for job in answer.json()["jobs"])

    assert titles(kind="export") == [f"Accident claims export {n}" for n in range(3)]
    assert titles(kind="export,campaign", status="failed") == ["Reminders: Terms v0",
                                                              "Reminders: Terms v1"]
    assert len(titles(status=FINISHED)) == 5
    assert titles(q="  ACCIDENT claims export 2 ") == ["Accident claims export 2"]
    assert titles(q="terms", kind="export") == []
    assert len(titles(status="queued,running")) == 2


@pytest.mark.parametrize("query, sentence", [
    ({"kind": "exports"}, "Unknown job kind 'exports'"),
    ({"kind": ""}, "Unknown job kind ''"),
    ({"kind": "export,"}, "Unknown job kind ''"),
    ({"status": "done"}, "Unknown status 'done'"),
    ({"status": "succeeded, failed"}, "Unknown status ' failed'"),
    ({"limit": "0"}, "`limit` must be a whole number from 1 to 200"),
    ({"limit": "201"}, "`limit` must be"),
    ({"limit": "-1"}, "`limit` must be"),
    ({"limit": "1.5"}, "`limit` must be"),
    ({"limit": "٣"}, "`limit` must be"),  # a digit, but not an ASCII one
    ({"limit": "9" * 5000}, "`limit` must be"),  # int() of 5000 digits raises
    ({"limit": ""}, "`limit` must be"),
    ({"q": "x" * 101}, "`q` is at most 100 characters"),
    ({"q": "a\x00b"}, "without control characters"),
    ({"q": "line\nbreak"}, "without control characters"),
    ({"before": "not-a-uuid"}, "`before` must be a job id"),
    ({"before": ""}, "`before` must be a job id"),
    ({"before": "AAAAAAAA-AAAA-AAAA-AAAA-AAAAAAAAAAAA"}, "`before` must be a job id"),
    ({"before": str(uuid.uuid4())}, "`before` is not one of your jobs"),
])
def test_bad_values_are_a_400_with_a_sentence(query, sentence):
    owner = make_user()
    make_jobs(owner, 2)
    answer = client_of(owner).get("/api/jobs/", query)
    assert answer.status_code == 400
    assert answer["Content-Type"] == "application/json"
    assert sentence in answer.json()["error"], answer.json()


def test_unknown_kinds_and_statuses_list_the_choices():
    client = client_of(make_user())
    assert client.get("/api/jobs/", {"kind": "x"}).json()["choices"] == [
        "campaign", "demo", "export"]
    assert "interrupted" in client.get("/api/jobs/", {"status": "x"}).json()["choices"]


@pytest.mark.parametrize("query", ["q=a&q=b", "kind=export&kind=demo",
                                   "status=failed&status=failed", "limit=1&limit=2",
                                   "before=x&before=y"])
def test_a_parameter_given_twice_is_refused(query):
    owner = make_user()
    make_jobs(owner, 2, kind="export")
    answer = client_of(owner).get(f"/api/jobs/?{query}")
    name = query.split("=")[0]
    assert answer.status_code == 400 and f"Give `{name}` once" in answer.json()["error"]


def test_another_users_job_is_not_a_cursor_and_leaks_nothing():
    alice, bob = make_user(), make_user()
    theirs = make_jobs(bob, 3, title="Bob's secret {n}")
    make_jobs(alice, 2)
    client = client_of(alice)
    answer = client.get("/api/jobs/", {"before": str(theirs[2].pk)})
    unknown = client.get("/api/jobs/", {"before": str(uuid.uuid4())})
    # The same answer as for an id that does not exist: nothing tells the two apart.
    assert answer.status_code == unknown.status_code == 400
    assert answer.json() == unknown.json()
    for query in ({}, {"q": "secret"}, {"status": FINISHED}, {"limit": 200}):
        listed = client.get("/api/jobs/", query).json()["jobs"]
        assert all("Bob" not in job["title"] for job in listed)


def test_a_superuser_lists_only_their_own_jobs():
    boss, other = make_user(superuser=True), make_user()
    make_jobs(other, 2, title="Someone else's {n}")
    mine = make_jobs(boss, 1)
    answer = client_of(boss).get("/api/jobs/", {"status": FINISHED, "limit": 200})
    assert ids(answer) == [str(mine[0].pk)]


def test_kinds_the_caller_lost_the_right_to_are_left_out_of_every_page():
    clerk = make_user(roles=("sender",))  # may not export: no export job is visible
    make_jobs(clerk, 3, kind="export", title="Old export {n}")
    kept = make_jobs(clerk, 2, kind="campaign")
    client = client_of(clerk)
    assert sorted(ids(client.get("/api/jobs/"))) == sorted(str(job.pk) for job in kept)
    assert client.get("/api/jobs/", {"kind": "export"}).json() == {"jobs": [],
                                                                  "next_before": None}


def test_non_staff_and_anonymous_get_no_list():
    assert Client().get("/api/jobs/", {"kind": "export"}).status_code == 401
    clerk = make_user(staff=False)
    make_jobs(clerk, 2)  # even their own: who is not staff lists nothing
    answer = client_of(clerk).get("/api/jobs/", {"status": FINISHED, "limit": 200})
    assert answer.status_code == 200 and answer.json() == {"jobs": [], "next_before": None}


def test_resumed_by_points_back_to_the_retry_of_the_same_owner():
    owner = make_user()
    old = Job.objects.create(kind="demo", title="old", owner=owner, status=JobStatus.FAILED)
    assert job_snapshot(old)["resumed_by"] is None
    retry = Job.objects.create(kind="demo", title="retry", owner=owner, resumed_from=old)
    old.refresh_from_db()
    assert job_snapshot(old)["resumed_by"] == str(retry.pk)
    assert job_snapshot(retry)["resumed_from"] == str(old.pk)
    listed = {job["id"]: job for job in client_of(owner).get("/api/jobs/").json()["jobs"]}
    assert listed[str(old.pk)]["resumed_by"] == str(retry.pk)
    assert listed[str(retry.pk)]["resumed_by"] is None

    # A superuser's retry of someone's job is the superuser's: the owner is not shown its id.
    boss = make_user(superuser=True)
    theirs = Job.objects.create(kind="demo", title="x", owner=owner, status=JobStatus.FAILED)
    Job.objects.create(kind="demo", title="x", owner=boss, resumed_from=theirs)
    assert job_snapshot(theirs)["resumed_by"] is None
    listed = {job["id"]: job for job in client_of(owner).get("/api/jobs/").json()["jobs"]}
    assert listed[str(theirs.pk)]["resumed_by"] is None


def test_file_size_is_the_recorded_size_only_with_a_download():
    owner = make_user()
    later = timezone.now() + timedelta(hours=1)
    done = Job.objects.create(kind="export", title="x", owner=owner, status=JobStatus.SUCCEEDED,
                              result_file="exports/x/a.csv", expires_at=later,
                              result={"bytes": 12_400_000, "rows": 3})
    assert job_snapshot(done)["file_size"] == 12_400_000
    unrecorded = Job.objects.create(kind="demo", title="x", owner=owner,
                                    status=JobStatus.SUCCEEDED, result_file="a", expires_at=later)
    assert job_snapshot(unrecorded)["file_size"] is None
    no_file = Job.objects.create(kind="export", title="x", owner=owner, status=JobStatus.FAILED,
                                 result={"bytes": 10})
    assert job_snapshot(no_file)["file_size"] is None
    odd = Job.objects.create(kind="export", title="x", owner=owner, status=JobStatus.SUCCEEDED,
                             result_file="b", expires_at=later, result={"bytes": "12"})
    assert job_snapshot(odd)["file_size"] is None


def test_search_text_is_text_not_a_pattern_or_sql():
    owner = make_user()
    make_jobs(owner, 1, title="Discount 100% export")
    make_jobs(owner, 1, title="plain_title")
    make_jobs(owner, 1, title="other")
    client = client_of(owner)

    def titles(q):
        answer = client.get("/api/jobs/", {"q": q})
        assert answer.status_code == 200, answer.json()
        return sorted(job["title"] for job in answer.json()["jobs"])

    assert titles("%") == ["Discount 100% export"]
    assert titles("_") == ["plain_title"]
    assert titles("' OR 1=1 --") == []
    assert titles("<script>alert(1)</script>") == []
