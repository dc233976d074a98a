"""Hostile-input fixtures: a real daphne server, three kinds of users, another user's secrets."""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from tests.factories import PASSWORD, make_user
from tests.live import LiveClient

# Marker strings that must never reach anyone but their owner.
SECRET_TITLE = "SECRET-TITLE-of-alice"
SECRET_BYTES = b"SECRET-FILE-CONTENT-of-alice"


@pytest.fixture
def server(server_inmemory, transactional_db):
    return server_inmemory


@pytest.fixture
def users(transactional_db):
    return {
        "alice": make_user(staff=True),
        "bob": make_user(staff=True),
        "carol": make_user(staff=False),
    }


@pytest.fixture
def clients(server, users):
    made = {
        name: LiveClient(server.url).login(user.username, PASSWORD) for name, user in users.items()
    }
    anon = LiveClient(server.url)
    anon.get("/accounts/login/")  # a CSRF cookie, so anonymous POSTs reach the view
    made["anon"] = anon
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def alice_jobs(users, media_root: Path):
    """Alice's jobs: one with a file, one expired, one running. Rows only, no threads."""
    from jobs.models import Job

    alice = users["alice"]
    ready = Job.objects.create(
        kind="demo", owner=alice, title=SECRET_TITLE, status="succeeded", total=1, done=1
    )
    ready.result_file = f"exports/{ready.pk}/claims.csv"
    ready.result_name = "claims.csv"
    ready.expires_at = timezone.now() + timedelta(hours=1)
    ready.save()
    path = media_root / ready.result_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(SECRET_BYTES)
    expired = Job.objects.create(
        kind="demo",
        owner=alice,
        title=SECRET_TITLE,
        status="succeeded",
        result_file=ready.result_file,
        result_name="old.csv",
        expires_at=timezone.now() - timedelta(minutes=1),
    )
    running = Job.objects.create(
        kind="demo",
        owner=alice,
        title=SECRET_TITLE,
        status="running",
        total=10,
        heartbeat_at=timezone.now(),
        worker_id="elsewhere",
    )
    return {
        "ready": str(ready.pk),
        "expired": str(expired.pk),
        "running": str(running.pk),
        "missing": str(uuid.uuid4()),
    }


def raw_request(
    base_url: str,
    raw_path: str,
    *,
    method: str = "GET",
    cookie: str = "",
    extra: str = "",
    host_header: str | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Send the path byte for byte (no client normalizes `..` or percent-escapes away).

    HTTP/1.0, so the answer is not chunked and the body can be checked as it is.
    """
    host, port = base_url.removeprefix("http://").split(":")
    host_header = f"{host}:{port}" if host_header is None else host_header
    head = (
        f"{method} {raw_path} HTTP/1.0\r\nHost: {host_header}\r\n"
        f"Cookie: {cookie}\r\n{extra}Connection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header_blob, _, body = data.partition(b"\r\n\r\n")
    lines = header_blob.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def assert_refused(
    response: httpx.Response | tuple, *statuses: int, path: str | None = None
) -> None:
    """A 4xx (one of `statuses` when given), JSON on /api/, and none of Alice's secrets.

    For a raw (status, headers, body) answer pass the request `path`: an /api/ path must
    answer `{"error": "<sentence>"}` as JSON (CONTRACT "Errors"), never an HTML page.
    """
    if isinstance(response, tuple):
        status, headers, body = response
        content_type = headers.get("content-type", "")
    else:
        status, body = response.status_code, response.content
        content_type = response.headers.get("content-type", "")
        path = response.request.url.path if path is None else path
    assert 400 <= status < 500, (status, body[:300])
    if statuses:
        assert status in statuses, (status, body[:300])
    assert SECRET_TITLE.encode() not in body and SECRET_BYTES not in body
    assert b"Traceback" not in body
    if path is not None and path.startswith("/api/"):
        assert content_type.startswith("application/json"), (path, content_type, body[:300])
    if content_type.startswith("application/json"):
        import json

        error = json.loads(body)["error"]
        assert isinstance(error, str) and error, body[:300]
