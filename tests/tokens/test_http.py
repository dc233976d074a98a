"""Access tokens over HTTP against a real daphne: the token alone does what its user may,
limited by its scopes; bad tokens and hostile headers are 401/400 with a sentence."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import Job
from tests.exports.factories import make_accidents
from tests.factories import make_user
from tests.hostile.conftest import raw_request
from tests.live import job_finished
from tests.tokens.conftest import as_json, bearer, create_token, session_client, token_socket
from tokens.models import AccessToken
from tokens.services import INVALID

ROWS = 300


def test_export_started_watched_and_downloaded_with_the_token_alone(server, holder):
    """No cookie, no CSRF token, no Origin: HTTP to start and download, the socket to watch."""
    make_accidents(ROWS)
    token = create_token(holder)
    ws = token_socket(server, token)
    assert ws.recv()["type"] == "jobs.snapshot"
    with bearer(server, token) as http:
        started = http.post("/api/exports/", json={"claim_type": "accident", "format": "csv"})
        assert started.status_code == 202, started.text
        assert "set-cookie" not in started.headers  # nothing session-like came out of it
        job_id = started.json()["job"]["id"]
        final = ws.recv_until(job_finished(job_id), timeout=60)["job"]
        assert final["status"] == "succeeded", final
        assert Job.objects.get(pk=job_id).owner == holder
        assert http.get("/api/jobs/").json()["jobs"][0]["id"] == job_id
        download = http.get(final["download_url"])
    assert download.status_code == 200, download.text[:300]
    rows = list(csv.reader(io.StringIO(download.content.decode("utf-8-sig"))))
    assert len(rows) == ROWS + 1  # the header and every claim
    ws.close()


def test_a_token_acts_with_its_users_current_permissions(server):
    """A staff member with no role: the token gives no more than the user has."""
    clerk = make_user(staff=True, roles=())
    token = create_token(clerk)
    with bearer(server, token) as http:
        refused = http.post("/api/exports/", json={"claim_type": "accident"})
        assert refused.status_code == 403 and "export_accidentclaim" not in refused.text
        assert "may not export accident claims" in as_json(refused)["error"]
        assert http.get("/api/exports/types/").json() == {"types": []}
        clerk.is_staff = False
        clerk.save()
        assert http.get("/api/jobs/").status_code == 200  # the list is just empty for him
        assert http.get("/api/jobs/").json() == {"jobs": [], "next_before": None}
        assert http.get("/api/exports/types/").status_code == 403


@pytest.mark.parametrize(("scopes", "request_", "missing"), [
    ("read", ("POST", "/api/exports/", {"claim_type": "accident"}), "start"),
    ("read", ("POST", "/api/campaigns/", {"agreement": "terms"}), "start"),
    ("read", ("POST", "/api/jobs/{job}/cancel/", None), "cancel"),
    ("read", ("POST", "/api/jobs/{job}/resume/", None), "start"),
    ("read,start", ("POST", "/api/jobs/{job}/cancel/", None), "cancel"),
    ("start,cancel", ("GET", "/api/jobs/", None), "read"),
    ("start,cancel", ("GET", "/api/jobs/{job}/download/", None), "read"),
    ("cancel", ("GET", "/api/exports/types/", None), "read"),
])
def test_a_missing_scope_is_a_403_naming_it(server, holder, scopes, request_, missing):
    job = Job.objects.create(kind="demo", owner=holder, title="queued", status="queued",
                             heartbeat_at=timezone.now())  # not stale: no sweep takes it
    method, path, body = request_
    with bearer(server, create_token(holder, "--scopes", scopes)) as http:
        answer = http.request(method, path.format(job=job.pk), json=body)
    assert answer.status_code == 403, answer.text
    error = as_json(answer)
    assert error["missing_scope"] == missing and f"lacks the `{missing}` scope" in error["error"]
    job.refresh_from_db()
    assert job.status == "queued" and not job.cancel_requested
    assert Job.objects.count() == 1


def test_the_cancel_scope_cancels(server, holder):
    job = Job.objects.create(kind="demo", owner=holder, title="queued", status="queued",
                             heartbeat_at=timezone.now())  # not stale: no sweep takes it
    with bearer(server, create_token(holder, "--scopes", "cancel")) as http:
        answer = http.post(f"/api/jobs/{job.pk}/cancel/")
    assert answer.status_code == 202 and answer.json()["job"]["status"] == "cancelled"


def test_tokens_cannot_manage_tokens(server, holder):
    with bearer(server, create_token(holder)) as http:
        for method, path in (("GET", "/api/tokens/"), ("POST", "/api/tokens/"),
                             ("POST", "/api/tokens/1/revoke/")):
            answer = http.request(method, path, json={})
            assert answer.status_code == 403, (path, answer.text)
            assert "session login" in as_json(answer)["error"]
    assert AccessToken.objects.count() == 1


def _refusal(answer, status: int, challenge: str) -> str:
    assert answer.status_code == status, answer.text
    assert answer.headers["www-authenticate"] == challenge
    return as_json(answer)["error"]


def test_unknown_and_wrong_secret_get_the_same_401(server, holder):
    real = create_token(holder)
    prefix = real.split("_")[1]
    cases = {
        "unknown prefix": f"rtj_{'0' * 8}_{'a' * 48}",
        "wrong secret": f"rtj_{prefix}_{'a' * 48}",
        "secret one character off": real[:-1] + ("0" if real[-1] != "0" else "1"),
        "not our shape": "hello",
        "a session key": "x" * 32,
    }
    for name, text in cases.items():
        with bearer(server, text) as http:
            error = _refusal(http.get("/api/jobs/"), 401, 'Bearer error="invalid_token"')
        assert error == INVALID, name
    with bearer(server, real) as http:
        assert http.get("/api/jobs/").status_code == 200


def test_expired_and_revoked_tokens_get_401(server, holder):
    token = create_token(holder)
    row = AccessToken.objects.get()
    with bearer(server, token) as http:
        assert http.get("/api/jobs/").status_code == 200
        AccessToken.objects.filter(pk=row.pk).update(
            expires_at=timezone.now() - timedelta(seconds=1))
        error = _refusal(http.get("/api/jobs/"), 401, 'Bearer error="invalid_token"')
        assert "expired" in error
        AccessToken.objects.filter(pk=row.pk).update(revoked_at=timezone.now())
        error = _refusal(http.post("/api/exports/", json={"claim_type": "accident"}), 401,
                         'Bearer error="invalid_token"')
        assert "revoked" in error
        holder.is_active = False
        holder.save()
        AccessToken.objects.filter(pk=row.pk).update(revoked_at=None, expires_at=None)
        assert "deactivated" in _refusal(http.get("/api/jobs/"), 401,
                                         'Bearer error="invalid_token"')
    assert not Job.objects.exists()


def test_a_bad_token_never_falls_back_to_the_session_cookie(server, holder):
    client = session_client(server, holder)
    try:
        assert client.get("/api/jobs/").status_code == 200
        answer = client.post("/api/exports/", {"claim_type": "accident"},
                             headers={"Authorization": f"Bearer rtj_{'0' * 8}_{'1' * 48}"})
        assert _refusal(answer, 401, 'Bearer error="invalid_token"') == INVALID
        assert not Job.objects.exists()
    finally:
        client.close()


def test_cookie_requests_keep_the_csrf_check(server, holder):
    """What a foreign page could make a browser send: the cookie, without the CSRF token."""
    client = session_client(server, holder)
    try:
        forged = client.http.post("/api/exports/", json={"claim_type": "accident"},
                                  headers={"Origin": "http://evil.example"})
        assert forged.status_code == 403 and "CSRF" in as_json(forged)["error"]
        no_token = client.http.post("/api/exports/", json={"claim_type": "accident"})
        assert no_token.status_code == 403 and "CSRF" in as_json(no_token)["error"]
        assert not Job.objects.exists()
    finally:
        client.close()


@pytest.mark.parametrize("query", ["token={t}", "access_token={t}", "ACCESS_TOKEN={t}",
                                   "status=open&token={t}", "token="])
def test_a_token_in_the_url_is_a_400_and_not_used(server, holder, query):
    token = create_token(holder)
    with bearer(server, "") as http:  # the header replaced below: nothing but the URL
        http.headers.pop("Authorization")
        answer = http.get(f"/api/jobs/?{query.format(t=token)}")
    assert answer.status_code == 400, answer.text
    assert "not accepted in the URL" in as_json(answer)["error"]
    assert AccessToken.objects.get().last_used_at is None  # not even looked at
    # Also beside a valid header, and beside a session: the URL is refused whatever else.
    with bearer(server, token) as http:
        assert http.get(f"/api/jobs/?{query.format(t='x')}").status_code == 400
    client = session_client(server, holder)
    try:
        assert client.get(f"/api/jobs/?{query.format(t=token)}").status_code == 400
    finally:
        client.close()


HOSTILE = [
    ("Bearer", 400, 'Bearer error="invalid_request"', "carries no token"),
    ("Bearer    ", 400, 'Bearer error="invalid_request"', "carries no token"),
    ("", 401, 'Bearer realm="api"', "other authorization schemes"),
    ("Basic YWRtaW46YWRtaW4=", 401, 'Bearer realm="api"', "other authorization schemes"),
    ("Token rtj_00000000_" + "0" * 48, 401, 'Bearer realm="api"', "other authorization"),
    ("Bearer " + "a" * 600, 400, 'Bearer error="invalid_request"', "too long"),
    ("Bearer " + "a" * 8000, 400, 'Bearer error="invalid_request"', "too long"),
    ("Bearer rtj_\xe9\xe9\xe9", 400, 'Bearer error="invalid_request"', "plain ASCII"),
    ("Bearer rtj_\x01x", 400, 'Bearer error="invalid_request"', "plain ASCII"),
    ("Bearer rtj_00000000_" + "0" * 48 + " extra", 401, 'Bearer error="invalid_token"',
     INVALID),
    ("bearer rtj_%00%00", 401, 'Bearer error="invalid_token"', INVALID),
    ("Bearer ' OR 1=1 --", 401, 'Bearer error="invalid_token"', INVALID),
]


@pytest.mark.parametrize(("value", "status", "challenge", "sentence"), HOSTILE,
                         ids=lambda v: repr(v)[:24])
def test_hostile_authorization_headers(server, holder, value, status, challenge, sentence):
    """Byte for byte (latin-1 on the wire, as a raw client could send): never a 500."""
    create_token(holder)
    got, headers, body = raw_request(server.url, "/api/jobs/",
                                     extra=f"Authorization: {value}\r\n")
    assert got == status, (got, body[:300])
    assert headers["www-authenticate"] == challenge
    assert headers["content-type"].startswith("application/json")
    assert sentence in json.loads(body)["error"]


def test_non_utf8_bytes_in_the_header(server):
    """Raw high bytes that are not latin-1 text a client meant."""
    head = (b"GET /api/jobs/ HTTP/1.0\r\nHost: " + server.url.removeprefix("http://").encode()
            + b"\r\nAuthorization: Bearer \xff\xfe\xc3\x28\r\nConnection: close\r\n\r\n")
    import socket

    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert status == 400, data[:300]
    assert b"plain ASCII" in data


def test_last_used_is_written_at_most_once_a_minute(server, holder):
    token = create_token(holder)
    row = AccessToken.objects.get()
    assert row.last_used_at is None
    with bearer(server, token) as http:
        assert http.get("/api/jobs/").status_code == 200
        first = AccessToken.objects.get().last_used_at
        assert first is not None
        assert http.get("/api/jobs/").status_code == 200
        assert AccessToken.objects.get().last_used_at == first  # seconds later: no write
        half_minute = timezone.now() - timedelta(seconds=30)
        AccessToken.objects.filter(pk=row.pk).update(last_used_at=half_minute)
        assert http.get("/api/jobs/").status_code == 200
        assert AccessToken.objects.get().last_used_at == half_minute
        long_ago = timezone.now() - timedelta(minutes=2)
        AccessToken.objects.filter(pk=row.pk).update(last_used_at=long_ago)
        assert http.get("/api/jobs/").status_code == 200
        assert AccessToken.objects.get().last_used_at > half_minute


def test_the_dashboard_api_creates_lists_and_revokes_ones_own(server, holder):
    other = make_user(staff=True)
    theirs = create_token(other)
    client = session_client(server, holder)
    try:
        made = client.post("/api/tokens/", {"name": "ci", "scopes": ["read"], "expires": "12h"})
        assert made.status_code == 201, made.text
        assert made.headers["cache-control"] == "no-store"
        text, shown = made.json()["token"], made.json()["access_token"]
        assert text.startswith(shown["prefix"] + "_") and shown["scopes"] == ["read"]
        listed = client.get("/api/tokens/").json()["tokens"]
        assert [t["prefix"] for t in listed] == [shown["prefix"]]  # not the other user's
        assert text not in json.dumps(listed) and "secret" not in json.dumps(listed)
        for bad in ({"scopes": []}, {"scopes": ["write"]}, {"expires": "forever"},
                    {"name": "x" * 101}, {"name": 5}):
            assert client.post("/api/tokens/", bad).status_code == 400, bad
        theirs_id = AccessToken.objects.get(user=other).pk
        assert client.post(f"/api/tokens/{theirs_id}/revoke/").status_code == 404
        with bearer(server, theirs) as http:
            assert http.get("/api/jobs/").status_code == 200
        revoked = client.post(f"/api/tokens/{shown['id']}/revoke/")
        assert revoked.status_code == 200 and revoked.json()["access_token"]["status"] == "revoked"
        with bearer(server, text) as http:
            assert http.get("/api/jobs/").status_code == 401
        no_csrf = client.http.post("/api/tokens/", json={})
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
    finally:
        client.close()


def test_a_job_of_another_user_is_still_a_404(server, holder):
    other = make_user(staff=True)
    theirs = Job.objects.create(kind="demo", owner=other, title="theirs", status="queued",
                                heartbeat_at=timezone.now())
    with bearer(server, create_token(holder)) as http:
        for path in (f"/api/jobs/{theirs.pk}/", f"/api/jobs/{theirs.pk}/download/",
                     f"/api/jobs/{uuid.uuid4()}/"):
            assert http.get(path).status_code == 404
        assert http.post(f"/api/jobs/{theirs.pk}/cancel/").status_code == 404
    theirs.refresh_from_db()
    assert not theirs.cancel_requested
