"""docs/asyncapi.yaml, pinned to the consumer: its close codes and client actions are the
code's, and a live socket gets every documented server message (each frame validated by
tests/live.py's Socket.recv against the document, JOBs against docs/openapi.json)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest

from consumers import bearer, intake, jobs
from tests.campaigns.factories import make_agreement
from tests.campaigns.links import accept_over_http
from tests.contract import schemas
from tests.factories import PASSWORD, make_user
from tests.live import LiveClient, job_finished
from tests.tokens.conftest import closed_with, token_socket
from tokens.services import token_create

CONSUMER = Path(jobs.__file__).read_text(encoding="utf-8")


def test_the_close_codes_are_the_consumers():
    codes = {int(code) for code in schemas.asyncapi()["channels"]["jobs"]["x-close-codes"]}
    assert codes == {jobs.CLOSE_UNAUTHENTICATED, jobs.CLOSE_FORBIDDEN, intake.CLOSE_POLICY,
                     bearer.CLOSE_BAD_REQUEST, bearer.CLOSE_UNAUTHENTICATED}


def test_the_client_actions_are_those_the_consumer_handles():
    handled = set(re.findall(r'action == "(\w+)"', CONSUMER))
    assert handled == schemas.client_actions()


def test_the_server_messages_are_those_the_consumer_sends():
    sent = set(re.findall(r'"type": "([\w.]+)"', CONSUMER))
    sent |= {"job.update"}  # encoded once by its publisher (jobs.groups.update_frame)
    sent |= {"agreement.counts"}  # a kind's feed, encoded by campaigns/live.py
    assert sent == set(schemas.server_message_names().values())


@pytest.fixture
def server(server_inmemory, transactional_db):
    return server_inmemory


def test_a_live_socket_sends_every_documented_message_each_valid(server):
    user = make_user(staff=True)
    client = LiveClient(server.url, contract=True).login(user.username, PASSWORD)
    ws = client.websocket()
    try:
        assert ws.recv()["type"] == "jobs.snapshot"
        ws.send({"action": "ping"})
        assert ws.recv_until(lambda m: m["type"] == "pong")
        ws.send({"action": "sync"})
        ws.send({"action": "sync"})  # too soon: an error frame
        ws.recv_until(lambda m: m["type"] == "error")
        ws.send("not json")
        ws.recv_until(lambda m: m["type"] == "error" and "JSON" in m["error"])
        ws.send({"action": "cancel", "job": str(uuid.uuid4())})
        ws.recv_until(lambda m: m["type"] == "error" and "job" in m)

        export = client.post("/api/exports/", {"claim_type": "theft", "format": "csv"})
        assert export.status_code == 202
        done = ws.recv_until(job_finished(export.json()["job"]["id"]), timeout=60)
        assert done["job"]["status"] == "succeeded"
        assert client.get(done["job"]["download_url"]).status_code == 200

        agreement = make_agreement(slug=f"contract-{uuid.uuid4().hex[:6]}")
        person = make_user(staff=False)
        assert accept_over_http(server.url, user_id=person.pk,
                                agreement=agreement).status_code == 200
        ws.recv_until(lambda m: m["type"] == "agreement.counts")

        slow = client.post("/api/demo-jobs/", {"steps": 200, "delay": 0.05}).json()["job"]
        ws.send({"action": "cancel", "job": slow["id"]})
        ws.recv_until(job_finished(slow["id"]), timeout=30)
        assert {t for _, m in ws.received for t in [m["type"]]} == set(
            schemas.server_message_names().values())
        assert ("/api/exports/", "post", 202) in client.seen
    finally:
        ws.close()
        client.close()


def test_refused_token_handshakes_send_a_documented_error_then_the_code(server):
    ws = token_socket(server, "rtj_00000000_" + "0" * 48)
    code, frames = closed_with(ws)
    assert code == 4401 and [f["type"] for f in frames] == ["error"]
    _, start_only = token_create(user=make_user(staff=True), scopes=["start"])
    code, frames = closed_with(token_socket(server, start_only))
    assert code == 4403 and [f["type"] for f in frames] == ["error"]
