"""The Python API: a Client for one server and token, and Job handles that wait, download and
cancel. HTTP with the standard library; the WebSocket with `websockets` (its sync client)."""

from __future__ import annotations

import email.message
import json
import os
import random
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from websockets.sync.client import connect

from rtjobs import __version__

TERMINAL = frozenset({"succeeded", "failed", "cancelled", "interrupted"})
# The server's close codes after an accepted handshake (docs/contract.md, "WebSocket").
CLOSE_REFUSED = {4400: "The access token must not be in the URL.",
                 4401: "The access token was refused.",
                 4403: "The access token's user may not watch jobs."}
TOKEN_TEXT = re.compile(r"[\x21-\x7e]{1,512}")  # printable ASCII, no spaces (the contract's)
USER_AGENT = f"rtjobs/{__version__}"


class RtjobsError(Exception):
    """Anything this client reports; the message is one sentence for a human."""


class UsageError(RtjobsError):
    """Bad input on this side: a URL, a token, an id, an option."""


class ApiError(RtjobsError):
    """The server answered with an error status; `message` is its `error` sentence."""

    def __init__(self, status: int, message: str, body: dict | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}


class AuthError(ApiError):
    """401/403 over HTTP, or a 4400/4401/4403 close of the WebSocket: the token will not do."""


class Unreachable(RtjobsError):
    """The server could not be reached (refused, no route, DNS, timeout, dropped)."""


class WaitTimeout(RtjobsError, TimeoutError):
    """Job.wait(timeout=…) ran out; the job goes on on the server."""


def is_terminal(job: dict) -> bool:
    return job.get("status") in TERMINAL


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error: following it would send the token elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirect())


def base_url(url: str) -> str:
    """The site's base URL, checked: http(s), a host, and nothing that could carry a token."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"JOBS_URL must be the site's http:// or https:// address, not {url!r}.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError("JOBS_URL must be the plain site address: no query, fragment or user "
                         "part (give the token in JOBS_TOKEN or --token, never in the URL).")
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def check_token(token: str) -> str:
    token = (token or "").strip()
    if not token:
        raise UsageError("No access token: set JOBS_TOKEN (or pass --token).")
    if not TOKEN_TEXT.fullmatch(token):
        raise UsageError("The access token must be printable ASCII without spaces.")
    return token


def check_job_id(job_id: str) -> str:
    try:
        return str(uuid.UUID(str(job_id)))
    except ValueError:
        raise UsageError(f"Not a job id: {job_id!r} (a UUID, as `rtjobs list` shows).") from None


def _error_body(raw: bytes) -> dict:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


class Client:
    """One server and one access token. Every method talks to the server at once."""

    def __init__(self, url: str, token: str, *, timeout: float = 30.0) -> None:
        self.url = base_url(url)
        self.token = check_token(token)
        self.timeout = timeout
        parts = urlsplit(self.url)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.ws_url = urlunsplit((scheme, parts.netloc, parts.path + "/ws/jobs/", "", ""))

    # --- HTTP ---------------------------------------------------------------------------
    def _open(self, method: str, path: str, body: dict | None = None):
        """The urllib response of a successful request; errors become RtjobsErrors. A 503
        (a server shutting down) is tried again after its Retry-After, up to three times."""
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json",
                   "User-Agent": USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        for attempt in range(4):
            # http(s) only: base_url checked the scheme.
            request = urllib.request.Request(self.url + path, data=data,  # noqa: S310
                                             headers=headers, method=method)
            try:
                return _OPENER.open(request, timeout=self.timeout)
            except urllib.error.HTTPError as exc:
                retry_after = exc.headers.get("Retry-After", "")
                if exc.code == 503 and attempt < 3 and retry_after.isdigit():
                    exc.close()
                    time.sleep(min(int(retry_after), 10))
                    continue
                raise self._http_error(exc) from None
            except (urllib.error.URLError, HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", None) or exc
                raise Unreachable(f"Cannot reach {self.url}: {reason}.") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _http_error(self, exc: urllib.error.HTTPError) -> ApiError:
        with exc:
            raw = exc.read(65536)
        body = _error_body(raw)
        message = body.get("error") if isinstance(body.get("error"), str) else None
        if 300 <= exc.code < 400:
            message = (f"The server redirected {exc.url} to {exc.headers.get('Location')}; "
                       "is JOBS_URL the site's address (https://…)?")
        message = message or f"HTTP {exc.code} {exc.reason} from {exc.url}."
        kind = AuthError if exc.code in (401, 403) else ApiError
        return kind(exc.code, message, body)

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        """A JSON request under the site's base URL; the decoded JSON answer."""
        with self._open(method, path, body) as response:
            raw = response.read()
        answer = _error_body(raw)
        if not answer and raw.strip() not in (b"{}", b""):
            raise ApiError(response.status, f"The server's answer to {path} is not JSON "
                           "(is JOBS_URL the site's address?).")
        return answer

    # --- the API ------------------------------------------------------------------------
    def jobs(self) -> list[dict]:
        """The caller's recent jobs, newest first (JOB dicts)."""
        return self.request("GET", "/api/jobs/").get("jobs", [])

    def job(self, job_id: str) -> Job:
        """A handle on one job, with its current snapshot."""
        job_id = check_job_id(job_id)
        return Job(self, self.request("GET", f"/api/jobs/{job_id}/")["job"])

    def export_types(self) -> list[dict]:
        return self.request("GET", "/api/exports/types/").get("types", [])

    def agreements(self) -> list[dict]:
        return self.request("GET", "/api/campaigns/agreements/").get("agreements", [])

    def start_export(self, claim_type: str, *, format: str = "xlsx",
                     filters: dict[str, Any] | None = None) -> Job:
        body: dict[str, Any] = {"claim_type": claim_type, "format": format}
        if filters:
            body["filters"] = dict(filters)
        answer = self.request("POST", "/api/exports/", body)
        return Job(self, answer["job"], info=answer)

    def start_campaign(self, agreement: str | int, *, include_recent: bool = False) -> Job:
        answer = self.request("POST", "/api/campaigns/",
                              {"agreement": agreement, "include_recent": bool(include_recent)})
        return Job(self, answer["job"], info=answer)


class Job:
    """One job: `snapshot` is the newest JOB dict seen (the highest `version`)."""

    def __init__(self, client: Client, snapshot: dict, *, info: dict | None = None) -> None:
        self.client = client
        self.snapshot = snapshot
        self.info = info or {}  # the start answer (a campaign's recipients, …)

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.status}>"

    @property
    def id(self) -> str:
        return self.snapshot["id"]

    @property
    def status(self) -> str:
        return self.snapshot["status"]

    def apply(self, job: dict) -> bool:
        """Keep `job` if it is newer than what we have; True when it was."""
        if job.get("id") != self.id or job.get("version", -1) <= self.snapshot.get("version", -1):
            return False
        self.snapshot = job
        return True

    def refresh(self) -> dict:
        self.apply(self.client.request("GET", f"/api/jobs/{self.id}/")["job"])
        return self.snapshot

    def cancel(self) -> dict:
        """Ask the server to cancel; the JOB of its answer (a running job answers `running`,
        "Cancelling…", and ends `cancelled` at its next check)."""
        self.apply(self.client.request("POST", f"/api/jobs/{self.id}/cancel/")["job"])
        return self.snapshot

    def wait(self, on_progress: Callable[[dict], object] | None = None,
             timeout: float | None = None, *,
             on_connection: Callable[[str, dict], object] | None = None,
             give_up_after: float = 300.0) -> dict:
        """Follow the job over the WebSocket until it ends; the final JOB dict.

        `on_progress(job)` gets every newer snapshot. Like the dashboard, it reconnects with
        exponential backoff and jitter (0.5 s doubling to 15 s, half of it random) and starts
        again from the server's snapshot after each connect, keeping the highest version.
        Raises WaitTimeout after `timeout` seconds, Unreachable when no connection could be
        made for `give_up_after` seconds, AuthError when the server refuses the token."""
        from rtjobs.follow import Follower

        return Follower(self, on_progress=on_progress, on_connection=on_connection,
                        give_up_after=give_up_after).run(timeout)

    def download(self, path: str | os.PathLike | None = None) -> Path:
        """Save the job's file; `path` may be a file name or a folder (the server's file name
        then); None is the current folder. Written to a `.part` file, then renamed."""
        url = self.snapshot.get("download_url") or f"/api/jobs/{self.id}/download/"
        if not url.startswith("/"):
            url = urlsplit(url).path
        with self.client._open("GET", quote(url, safe="/")) as response:
            name = _attachment_name(response.headers.get("Content-Disposition", ""))
            target = Path(path) if path is not None else Path.cwd()
            if target.is_dir():
                target = target / (name or f"{self.id}.download")
            part = target.with_name(target.name + ".part")
            try:
                with open(part, "wb") as handle:
                    while chunk := response.read(256 * 1024):
                        handle.write(chunk)
                os.replace(part, target)
            except BaseException:
                part.unlink(missing_ok=True)
                raise
        return target


def _attachment_name(header: str) -> str:
    """The file name of a Content-Disposition header, without any folder part."""
    message = email.message.Message()
    message["Content-Disposition"] = header
    name = message.get_filename() or ""
    return Path(name.replace("\\", "/")).name.lstrip(".")


def ws_connect(client: Client, *, open_timeout: float = 10.0):
    """An open /ws/jobs/ socket with the token in the handshake's header."""
    return connect(client.ws_url, open_timeout=open_timeout, max_size=2**24,
                   additional_headers={"Authorization": f"Bearer {client.token}"},
                   user_agent_header=USER_AGENT, ping_interval=20, ping_timeout=20)


def backoff(attempt: int, *, base: float = 0.5, ceiling: float = 15.0) -> float:
    """The dashboard's reconnect delay: exponential, "equal jitter" (half fixed, half random)."""
    top = min(ceiling, base * 2**attempt)
    return top / 2 + random.random() * top / 2

