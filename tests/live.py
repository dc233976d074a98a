"""A browser-like client for a live server: HTTP session with login and CSRF, WebSocket.

Every frame a Socket reads is checked against docs/asyncapi.yaml (one of the documented
server messages, its JOBs valid against docs/openapi.json); a LiveClient made with
`contract=True` checks every /api/ answer against docs/openapi.json and records the
(path template, method, status) it saw in `seen` (tests/contract/).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from tests.contract import schemas


class LiveClient:
    """One logged-in browser: cookies, CSRF header, JSON helpers, a socket factory."""

    def __init__(self, base_url: str, *, contract: bool = False) -> None:
        self.base_url = base_url
        self.seen: set[tuple[str, str, int]] = set()
        hooks = {"response": [self._check]} if contract else {}
        self.http = httpx.Client(base_url=base_url, timeout=30, follow_redirects=False,
                                 event_hooks=hooks)

    def _check(self, response: httpx.Response) -> None:
        """Validate one /api/ answer against docs/openapi.json (the `contract=True` hook)."""
        path = response.request.url.path
        if not path.startswith("/api/"):
            return
        seen = check_answer(path, response.request.method, response.status_code,
                            response.headers.get("content-type", ""), response.read())
        if seen is not None:
            self.seen.add(seen)

    def login(self, username: str, password: str) -> LiveClient:
        self.http.get("/accounts/login/").raise_for_status()
        response = self.http.post(
            "/accounts/login/",
            data={"username": username, "password": password,
                  "csrfmiddlewaretoken": self.csrf, "next": "/"},
        )
        assert response.status_code == 302, f"login failed: {response.status_code}"
        return self

    @property
    def csrf(self) -> str:
        return self.http.cookies.get("csrftoken", "")

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.get(path, **kwargs)

    def post(self, path: str, json_body: Any = None, **kwargs: Any) -> httpx.Response:
        headers = {"X-CSRFToken": self.csrf, **kwargs.pop("headers", {})}
        if json_body is not None:
            return self.http.post(path, json=json_body, headers=headers, **kwargs)
        return self.http.post(path, headers=headers, **kwargs)

    def cookie_header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.http.cookies.items())

    def websocket(self, *, origin: str | None = None, path: str = "/ws/jobs/") -> Socket:
        ws_base = self.base_url.replace("http://", "ws://", 1)
        headers = {"Cookie": self.cookie_header(), "Origin": origin or self.base_url}
        conn = connect(ws_base + path, additional_headers=headers, open_timeout=10, legacy=True,
                       max_size=2**24)
        return Socket(conn)

    def close(self) -> None:
        self.http.close()


def check_answer(path: str, method: str, status: int, content_type: str, body: bytes
                 ) -> tuple[str, str, int] | None:
    """Check an /api/ answer: a documented status has a body valid against its schema, any
    other is the contract's JSON error. (template, method, status) when documented."""
    from django.urls import Resolver404, resolve

    try:
        template = schemas.route_to_path(resolve(path).route)
    except Resolver404:
        template = None
    if (template and schemas.operation(template, method) is not None
            and schemas.validate_answer(template, method, status, content_type, body)):
        return template, method.lower(), status
    if status >= 400 and method != "HEAD":  # still the error shape of docs/contract.md
        assert content_type.startswith("application/json"), (path, status, content_type)
        schemas.assert_valid(schemas.OPENAPI_URI + "#/components/schemas/Error",
                             json.loads(body))
    return None


class Socket:
    """A WebSocket that records (arrival time, message) for every frame it reads."""

    def __init__(self, conn: ClientConnection) -> None:
        self.conn = conn
        self.received: list[tuple[float, dict]] = []

    def send(self, message: Any) -> None:
        self.conn.send(message if isinstance(message, str | bytes) else json.dumps(message))

    def recv(self, timeout: float = 10) -> dict:
        message = json.loads(self.conn.recv(timeout=timeout))
        self.received.append((time.monotonic(), message))
        schemas.assert_server_message(message)  # docs/asyncapi.yaml
        return message

    def recv_until(self, predicate: Callable[[dict], bool], timeout: float = 20) -> dict:
        """Read frames until one matches; fail after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no matching message in time; got: "
                                   f"{[m for _, m in self.received][-5:]}")
            message = self.recv(timeout=remaining)
            if predicate(message):
                return message

    def updates_for(self, job_id: str) -> list[tuple[float, dict]]:
        return [(t, m["job"]) for t, m in self.received
                if m.get("type") == "job.update" and m["job"]["id"] == job_id]

    def close(self) -> None:
        self.conn.close()


def job_finished(job_id: str) -> Callable[[dict], bool]:
    terminal = {"succeeded", "failed", "cancelled", "interrupted"}
    return lambda m: (m.get("type") == "job.update" and m["job"]["id"] == job_id
                      and m["job"]["status"] in terminal)
