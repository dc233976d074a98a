"""Access tokens on the WebSocket against a real daphne: the Authorization header of the
upgrade request alone (no cookie, no Origin), the cancel scope, and sockets that close when
their token is revoked or expires or their user loses staff — waited for as close frames."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from jobs.models import Job
from tests.factories import make_user
from tests.live import job_finished
from tests.tokens.conftest import (
    bearer,
    closed_with,
    create_token,
    manage,
    session_client,
    still_open,
    token_socket,
)
from tokens.models import AccessToken
from tokens.services import INVALID, REVOKED, token_create

RECHECK = 5.0  # JOBS_WS_RECHECK of the server (its default)


def _open(server, token: str, **kwargs):
    ws = token_socket(server, token, **kwargs)
    first = ws.recv()
    assert first["type"] == "jobs.snapshot", first
    return ws


def test_the_header_alone_opens_the_socket_and_pushes_arrive(server, holder):
    token = create_token(holder)
    theirs = Job.objects.create(kind="demo", owner=make_user(staff=True), title="not mine",
                                status="succeeded")
    mine = Job.objects.create(kind="demo", owner=holder, title="mine", status="succeeded")
    ws = token_socket(server, token)
    snapshot = ws.recv()
    assert [j["id"] for j in snapshot["jobs"]] == [str(mine.pk)]
    assert str(theirs.pk) not in str(snapshot)
    with bearer(server, token) as http:
        job_id = http.post("/api/demo-jobs/", json={"steps": 5, "delay": 0.01}).json()["job"]["id"]
    assert ws.recv_until(job_finished(job_id))["job"]["done"] == 5
    still_open(ws)
    ws.close()


def test_no_origin_check_for_a_token_even_a_foreign_one(server, holder):
    """A browser cannot set this header, so the Origin protects nothing here."""
    token = create_token(holder)
    ws = _open(server, token, headers={"Origin": "http://evil.example"})
    still_open(ws)
    ws.close()


def test_a_cookie_from_another_origin_is_still_refused(server, holder):
    client = session_client(server, holder)
    try:
        with pytest.raises(InvalidStatus) as info:
            connect(server.ws_url + "/ws/jobs/", open_timeout=10, additional_headers={
                "Cookie": client.cookie_header(), "Origin": "http://evil.example"})
        assert info.value.response.status_code == 403
        ws = client.websocket()  # the site's own origin: as before
        assert ws.recv()["type"] == "jobs.snapshot"
        ws.close()
    finally:
        client.close()


def test_without_the_cancel_scope_cancel_is_an_error_frame_not_a_close(server, holder):
    job = Job.objects.create(kind="demo", owner=holder, title="queued", status="queued",
                             heartbeat_at=timezone.now())  # not stale: no sweep takes it
    ws = _open(server, create_token(holder, "--scopes", "read,start"))
    ws.send({"action": "cancel", "job": str(job.pk)})
    answer = ws.recv_until(lambda m: m["type"] == "error")
    assert answer == {"type": "error", "job": str(job.pk), "error": (
        "This access token lacks the `cancel` scope; create a token with `cancel` to do this.")}
    still_open(ws)
    job.refresh_from_db()
    assert job.status == "queued" and not job.cancel_requested
    ws.close()

    allowed = _open(server, create_token(holder, "--scopes", "read,cancel"))
    allowed.send({"action": "cancel", "job": str(job.pk)})
    # The server's watcher may first push the row this test process made (queued): skip it.
    update = allowed.recv_until(lambda m: m["type"] == "job.update"
                                and m["job"]["status"] != "queued")
    assert update["job"]["status"] == "cancelled"
    allowed.close()


def test_without_the_read_scope_the_socket_is_closed_4403(server, holder):
    ws = token_socket(server, create_token(holder, "--scopes", "start,cancel"))
    code, frames = closed_with(ws)
    assert code == 4403
    assert frames == [{"type": "error", "error": "This access token lacks the `read` scope, "
                                                 "which watching jobs needs."}]


@pytest.mark.parametrize(("text", "sentence"), [
    ("rtj_00000000_" + "0" * 48, INVALID),
    ("garbage", INVALID),
    ("", "carries no token"),
    ("   ", "carries no token"),
    ("x" * 600, "too long"),
    ("rtj_\xe9\xe9\xe9", "plain ASCII"),  # latin-1 bytes on the wire
])
def test_a_bad_token_gets_an_error_frame_and_4401(server, holder, text, sentence):
    create_token(holder)
    ws = token_socket(server, text)
    code, frames = closed_with(ws)
    assert code == 4401
    assert len(frames) == 1 and frames[0]["type"] == "error"
    assert sentence in frames[0]["error"]


def test_a_wrong_secret_for_a_real_prefix_gets_the_same_sentence(server, holder):
    real = create_token(holder)
    ws = token_socket(server, real[:-4] + "0000" if not real.endswith("0000") else real[:-4])
    code, frames = closed_with(ws)
    assert code == 4401 and frames == [{"type": "error", "error": INVALID}]


@pytest.mark.parametrize("query", ["?token={t}", "?access_token={t}", "?x=1&Token={t}"])
def test_a_token_in_the_url_is_refused_with_4400(server, holder, query):
    token = create_token(holder)
    ws = token_socket(server, None, path="/ws/jobs/" + query.format(t=token))
    code, frames = closed_with(ws)
    assert code == 4400 and len(frames) == 1
    assert "not accepted in the URL" in frames[0]["error"]
    assert AccessToken.objects.get().last_used_at is None
    # Beside a valid header too: the URL is refused whatever else the handshake carries.
    ws = token_socket(server, token, path="/ws/jobs/" + query.format(t="x"))
    assert closed_with(ws)[0] == 4400


def test_revoking_on_the_dashboard_closes_the_open_socket_at_once(server, holder):
    """The same server: the revoke pushes token.revoked to the user's sockets."""
    token = create_token(holder)
    other_token = create_token(holder)
    ws, other = _open(server, token), _open(server, other_token)
    client = session_client(server, holder)
    try:
        row = AccessToken.objects.get(prefix=token.split("_")[1])
        started = time.monotonic()
        assert client.post(f"/api/tokens/{row.pk}/revoke/").status_code == 200
        code, frames = closed_with(ws, timeout=10)
        assert code == 4401 and frames == [{"type": "error", "error": REVOKED}]
        assert time.monotonic() - started < RECHECK  # the push, not the periodic read
        still_open(other)  # the user's other token is untouched
        session_ws = client.websocket()  # and so is their browser
        assert session_ws.recv()["type"] == "jobs.snapshot"
        session_ws.close()
    finally:
        client.close()
        other.close()


def test_revoking_from_the_command_closes_the_socket_within_the_recheck(server, holder):
    """Another process: no push reaches this server's in-process layer, the socket's own
    periodic check of its token does. The socket stays silent all along."""
    token = create_token(holder)
    ws = _open(server, token)
    row = AccessToken.objects.get()
    started = time.monotonic()
    assert manage("jobs_token", "revoke", str(row.pk)).returncode == 0
    code, frames = closed_with(ws, timeout=3 * RECHECK)
    # The program is told why, as its next handshake would be.
    assert code == 4401 and frames == [{"type": "error", "error": REVOKED}]
    assert time.monotonic() - started < 2 * RECHECK + 2


def test_an_expiring_token_closes_its_idle_socket(server, holder):
    _row, token = token_create(user=holder, expires_in=timedelta(seconds=2))
    ws = _open(server, token)
    opened = time.monotonic()
    code, frames = closed_with(ws, timeout=3 * RECHECK)
    assert code == 4401 and len(frames) == 1 and "expired" in frames[0]["error"]
    assert 1.0 < time.monotonic() - opened < 2 + RECHECK + 2
    with bearer(server, token) as http:
        assert "expired" in http.get("/api/jobs/").json()["error"]


@pytest.mark.parametrize(("change", "code", "said"), [
    ({"is_staff": False}, 4403, []),  # the token is fine; 4403 itself says the rest
    ({"is_active": False}, 4401, [{"type": "error",
                                   "error": "This access token's user is deactivated."}])])
def test_a_user_who_loses_staff_closes_their_idle_token_socket(server, holder, change, code,
                                                               said):
    ws = _open(server, create_token(holder))
    for field, value in change.items():
        setattr(holder, field, value)
    holder.save()
    got, frames = closed_with(ws, timeout=3 * RECHECK)
    assert (got, frames) == (code, said)


def test_logging_out_a_session_leaves_token_sockets_open(server, holder):
    ws = _open(server, create_token(holder))
    client = session_client(server, holder)
    session_ws = client.websocket()
    assert session_ws.recv()["type"] == "jobs.snapshot"
    assert client.post("/accounts/logout/").status_code in {200, 302}
    assert closed_with(session_ws)[0] == 4401
    still_open(ws)
    ws.close()
    client.close()


def test_a_revoke_in_another_process_closes_at_once_through_redis(server_redis, holder):
    """With Redis the command's revoke reaches every server's sockets as a push."""
    token = create_token(holder)
    ws = _open(server_redis, token)
    row = AccessToken.objects.get()
    env = {key: server_redis.env[key] for key in ("REDIS_URL", "CHANNEL_LAYER_PREFIX")}
    done = manage("jobs_token", "revoke", str(row.pk), env=env)
    assert done.returncode == 0, done.stderr
    finished = time.monotonic()
    code, _frames = closed_with(ws, timeout=3 * RECHECK)
    assert code == 4401
    assert time.monotonic() - finished < RECHECK / 2  # the push, not the periodic read
