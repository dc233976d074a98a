"""Hostile HTTP input against a real daphne server: every answer a 4xx JSON, never a 500,
never another user's data (CONTRACT "Who may do what", "Errors")."""

from __future__ import annotations

import json

import pytest

from tests.hostile.conftest import SECRET_BYTES, SECRET_TITLE, assert_refused, raw_request

UNSAFE = [  # (path, body) of every endpoint that changes something
    ("/api/demo-jobs/", {"steps": 1, "delay": 0}),
    ("/api/exports/", {"claim_type": "x"}),
    ("/api/campaigns/", {"agreement": "x"}),
    ("/api/campaigns/test/", {"agreement": "x"}),
    ("/api/jobs/{running}/cancel/", None),
    ("/api/jobs/{running}/resume/", None),
]
SAFE = [
    "/api/jobs/",
    "/api/jobs/{ready}/",
    "/api/jobs/{ready}/download/",
    "/api/exports/types/",
    "/api/campaigns/agreements/",
    "/api/campaigns/preview/?agreement=x",
    "/api/campaigns/{ready}/",
    "/api/campaigns/{ready}/failed/",
    "/api/campaigns/{ready}/failed.csv",
]


@pytest.mark.parametrize("path", SAFE)
def test_anonymous_reads_get_401(clients, alice_jobs, path):
    assert_refused(clients["anon"].get(path.format(**alice_jobs)), 401)


@pytest.mark.parametrize(("path", "body"), UNSAFE)
def test_anonymous_writes_get_401(clients, alice_jobs, path, body):
    assert_refused(clients["anon"].post(path.format(**alice_jobs), body), 401)


@pytest.mark.parametrize(("path", "body"), UNSAFE)
def test_missing_csrf_gets_403(clients, alice_jobs, path, body):
    response = clients["alice"].http.post(path.format(**alice_jobs), json=body)
    assert_refused(response, 403)
    assert "CSRF" in response.json()["error"]


@pytest.mark.parametrize(("path", "body"), UNSAFE)
def test_wrong_csrf_token_gets_403(clients, alice_jobs, path, body):
    response = clients["alice"].http.post(
        path.format(**alice_jobs), json=body, headers={"X-CSRFToken": "A" * 32}
    )
    assert_refused(response, 403)


@pytest.mark.parametrize(
    "path", ["/api/demo-jobs/", "/api/exports/", "/api/campaigns/", "/api/jobs/{ready}/resume/"]
)
def test_non_staff_cannot_start_jobs(clients, alice_jobs, path):
    assert_refused(clients["carol"].post(path.format(**alice_jobs), {}), 403)


@pytest.mark.parametrize("which", ["ready", "expired", "running", "missing"])
@pytest.mark.parametrize("action", ["", "download/", "cancel/", "resume/"])
def test_other_users_job_ids_look_missing(clients, alice_jobs, users, which, action):
    """Bob (staff) and every id of Alice's: 404, exactly like an id that does not exist."""
    from jobs.models import Job

    path = f"/api/jobs/{alice_jobs[which]}/{action}"
    bob = clients["bob"]
    response = bob.post(path) if action in {"cancel/", "resume/"} else bob.get(path)
    assert_refused(response, 404)
    if which == "running":
        assert not Job.objects.get(pk=alice_jobs["running"]).cancel_requested


def test_owner_download_works_and_expired_is_gone(clients, alice_jobs):
    """The positive control for the cases above: the same ids answer their owner."""
    alice = clients["alice"]
    ok = alice.get(f"/api/jobs/{alice_jobs['ready']}/download/")
    assert ok.status_code == 200 and ok.content == SECRET_BYTES
    assert "attachment" in ok.headers["content-disposition"]
    assert_refused(alice.get(f"/api/jobs/{alice_jobs['expired']}/download/"), 410)
    assert alice.get("/api/jobs/").json()["jobs"][0]["title"] == SECRET_TITLE
    assert SECRET_TITLE not in clients["bob"].get("/api/jobs/").text


FORGED = [
    "/api/jobs/../../../../etc/passwd/download/",
    "/api/jobs/%2e%2e%2f%2e%2e%2fetc%2fpasswd/download/",
    "/api/jobs/%2E%2E/%2E%2E/realtime_site/settings.py/download/",
    "/api/jobs//etc/passwd/download/",
    "/api/jobs/{ready}/download/../../../../etc/passwd",
    "/api/jobs/{ready}/download/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/api/jobs/{ready}%00/download/",
    "/api/jobs/{ready}%2F..%2F{ready}/download/",
    "/api/jobs/not-a-uuid/download/",
    "/api/jobs/{ready}/download/?path=/etc/passwd",
    "/api/jobs/{ready}/download/?name=../../settings.py&file=exports/{ready}/claims.csv",
    "/media/exports/{ready}/claims.csv",
    "/media/../realtime_site/settings.py",
    "/protected-media/exports/{ready}/claims.csv",
    "/static/../realtime_site/settings.py",
    "/static/%2e%2e/%2e%2e/realtime_site/settings.py",
    "/static/..%2f..%2frealtime_site%2fsettings.py",
    "/api/%2e%2e/admin/",
]


@pytest.mark.parametrize("path", FORGED)
def test_forged_download_paths(server, clients, alice_jobs, path):
    """As Bob (logged in, staff): forged paths reach neither Alice's file nor the server's."""
    raw_path = path.format(**alice_jobs)
    response = raw_request(server.url, raw_path, cookie=clients["bob"].cookie_header())
    assert_refused(response, path=raw_path)
    assert b"SECRET_KEY" not in response[2] and b"root:" not in response[2]


def test_the_query_string_cannot_pick_the_file(server, clients, alice_jobs):
    """Alice herself: extra parameters are ignored, she gets her own file and nothing else."""
    status, _headers, body = raw_request(
        server.url,
        f"/api/jobs/{alice_jobs['ready']}/download/?file=../../../etc/passwd",
        cookie=clients["alice"].cookie_header(),
    )
    assert status == 200 and body == SECRET_BYTES


BAD_BODIES = [
    ("{", "application/json"),
    ("[]", "application/json"),
    ("null", "application/json"),
    ('"steps"', "application/json"),
    ("\xff\xfe not utf-8", "application/json"),
    ('{"steps": "abc"}', "application/json"),
    ('{"steps": [1, 2]}', "application/json"),
    ('{"steps": {"$gt": 1}}', "application/json"),
    ('{"steps": -1}', "application/json"),
    ('{"steps": 1e12}', "application/json"),
    ('{"steps": 5, "delay": "NaN"}', "application/json"),
    ('{"steps": 5, "delay": "Infinity"}', "application/json"),
    ('{"steps": 5, "delay": 1e308}', "application/json"),
    ('{"steps": 5, "fail_every": "x"}', "application/json"),
    ('{"steps": 5, "crash_at": [1]}', "application/json"),
    ('{"steps": "1' + "0" * 5000 + '"}', "application/json"),
    ("steps=abc&delay=0", "application/x-www-form-urlencoded"),
    # Nested far past the decoder's recursion limit: RecursionError was a 500.
    ("[" * 20_000 + "]" * 20_000, "application/json"),
    ('{"steps": ' + "[" * 20_000 + "]" * 20_000 + "}", "application/json"),
    ('{"pad": "' + "x" * 70_000 + '"}', "application/json"),
]


@pytest.mark.parametrize(("body", "content_type"), BAD_BODIES)
def test_malformed_demo_job_bodies(clients, body, content_type):
    from jobs.models import Job

    alice = clients["alice"]
    before = Job.objects.count()
    response = alice.post(
        "/api/demo-jobs/", content=body.encode("latin-1"), headers={"Content-Type": content_type}
    )
    assert_refused(response, 400)
    assert Job.objects.count() == before, "a rejected request must not start a job"


EXPORT_BODIES = [
    {},
    {"claim_type": ""},
    {"claim_type": "no-such-type"},
    {"claim_type": ["accident"]},
    {"claim_type": {"$ne": ""}},
    {"claim_type": None},
    {"claim_type": 12},
    {"claim_type": "../../etc/passwd"},
    {"claim_type": "x" * 10_000},
    {"claim_type": "__first__", "format": "pdf"},
    {"claim_type": "__first__", "format": ["csv"]},
    {"claim_type": "__first__", "format": "../csv"},
    {"claim_type": "__first__", "filters": "not json {"},
    {"claim_type": "__first__", "filters": [1, 2]},
    {"claim_type": "__first__", "filters": {"__class__": 1}},
    {"claim_type": "__first__", "filters": {"created__gte": "not a date"}},
    # Values no database column holds: a 400 before the job, not a failed job.
    {"claim_type": "__first__", "filters": {"car__year": 2**64}},
    {"claim_type": "__first__", "filters": {"car__year__gte": -(2**70)}},
    {"claim_type": "__first__", "filters": {"car__year__in": [1, 10**30]}},
    # JSON text in a form field, nested too deep to decode.
    {"claim_type": "__first__", "filters": "[" * 20_000 + "]" * 20_000},
]


@pytest.fixture
def first_claim_type(clients) -> str:
    types = clients["alice"].get("/api/exports/types/").json()["types"]
    # A real type, or the format/filters cases below would be refused for the wrong reason.
    assert types, "no export types: the bad format/filters cases would test nothing"
    return types[0]["key"]


@pytest.mark.parametrize("body", EXPORT_BODIES, ids=lambda b: json.dumps(b)[:40])
def test_malformed_export_requests(clients, first_claim_type, body):
    from jobs.models import Job

    body = {k: (first_claim_type if v == "__first__" else v) for k, v in body.items()}
    before = Job.objects.count()
    assert_refused(clients["alice"].post("/api/exports/", body), 400)
    assert Job.objects.count() == before, "a rejected request must not start a job"


CAMPAIGN_BODIES = [
    {},
    {"agreement": ""},
    {"agreement": "no-such-agreement"},
    {"agreement": 999_999_999},
    {"agreement": -1},
    {"agreement": ["1"]},
    {"agreement": {"id": 1}},
    {"agreement": None},
    {"agreement": "1 OR 1=1"},
    {"agreement": "x" * 10_000},
    {"agreement": True},
]


@pytest.mark.parametrize("body", CAMPAIGN_BODIES, ids=lambda b: json.dumps(b)[:40])
def test_malformed_campaign_requests(clients, body):
    from jobs.models import Job

    before = Job.objects.count()
    assert_refused(clients["alice"].post("/api/campaigns/", body), 400)
    assert Job.objects.count() == before


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/demo-jobs/"),
        ("GET", "/api/exports/"),
        ("GET", "/api/campaigns/"),
        ("GET", "/api/jobs/{ready}/cancel/"),
        ("DELETE", "/api/jobs/{ready}/"),
        ("PUT", "/api/jobs/{ready}/"),
        ("POST", "/api/jobs/"),
        ("POST", "/api/jobs/{ready}/download/"),
    ],
)
def test_wrong_methods_get_405(clients, alice_jobs, method, path):
    alice = clients["alice"]
    response = alice.http.request(
        method, path.format(**alice_jobs), headers={"X-CSRFToken": alice.csrf}
    )
    assert_refused(response, 405)


@pytest.mark.parametrize(
    "path",
    [
        "/api/nope/",
        "/api/jobs/123/",
        "/api/jobs/{ready}/nope/",
        "/api/exports/types/../../",
        "/api/" + "a" * 3000 + "/",
    ],
)
def test_unknown_api_paths_get_json_404(clients, alice_jobs, path):
    assert_refused(clients["alice"].get(path.format(**alice_jobs)), 404)


@pytest.mark.parametrize(
    "host", ["evil.example", "127.0.0.1.evil.example", "*", "", "localhost@evil.example", "[::1"]
)
def test_bad_host_header_is_refused(server, clients, host):
    cookie = clients["alice"].cookie_header()
    assert raw_request(server.url, "/api/jobs/", cookie=cookie)[0] == 200  # control
    assert_refused(
        raw_request(server.url, "/api/jobs/", cookie=cookie, host_header=host), 400,
        path="/api/jobs/",
    )
