"""Access-token fixtures: a real daphne, token holders, and clients that carry only a token."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest
from django.core.management import call_command
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.factories import PASSWORD, make_user
from tests.live import LiveClient, Socket
from tests.services import ROOT


@pytest.fixture
def server(server_inmemory, transactional_db):
    return server_inmemory


@pytest.fixture
def holder(transactional_db):
    """A staff user with both roles, who will hold tokens."""
    return make_user(staff=True)


def create_token(user, *args: str) -> str:
    """`jobs_token create --user NAME ARGS...` in this process; the token text it printed."""
    out, err = io.StringIO(), io.StringIO()
    call_command("jobs_token", "create", "--user", user.username, *args, stdout=out, stderr=err)
    return out.getvalue().strip()


def bearer(server, token: str) -> httpx.Client:
    """An HTTP client with the token and nothing else: no cookie jar in use, no CSRF, no
    Origin (httpx sends none)."""
    return httpx.Client(base_url=server.url, timeout=30, follow_redirects=False,
                        headers={"Authorization": f"Bearer {token}"})


def token_socket(server, token: str | None, *, path: str = "/ws/jobs/",
                 headers: dict | None = None) -> Socket:
    """A WebSocket whose handshake carries the token header only (no Cookie, no Origin)."""
    sent = {"Authorization": f"Bearer {token}"} if token is not None else {}
    conn = connect(server.ws_url + path, additional_headers={**sent, **(headers or {})},
                   open_timeout=10, max_size=2**24, legacy=True)
    return Socket(conn)


def closed_with(ws: Socket, timeout: float = 20) -> tuple[int, list[dict]]:
    """Read until the server closes; (close code, frames read meanwhile)."""
    frames = []
    with pytest.raises(ConnectionClosed) as info:
        while True:
            frames.append(ws.recv(timeout=timeout))
    assert info.value.rcvd is not None, info.value
    return info.value.rcvd.code, frames


def still_open(ws: Socket) -> None:
    ws.send({"action": "ping"})
    assert ws.recv_until(lambda m: m.get("type") == "pong", timeout=10) == {"type": "pong"}


def session_client(server, user) -> LiveClient:
    return LiveClient(server.url).login(user.username, PASSWORD)


def manage(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in its own process, on the test database file."""
    from django.db import connection

    full = {
        "PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "DJANGO_VAR_DIR": os.environ.get("TMPDIR", "/tmp") + "/rt-token-cli",
        **(env or {}),
    }
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture
def sessions(server) -> Iterator[list]:
    """LiveClients to close after the test."""
    made: list = []
    yield made
    for client in made:
        client.close()


def as_json(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text[:200]
    return json.loads(response.content)
