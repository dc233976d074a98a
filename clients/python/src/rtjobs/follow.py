"""Following one job over /ws/jobs/ the way static/js/jobs-socket.js does: reconnect with
backoff and jitter, start again from the snapshot after every connect, keep the highest
version. Delivery of updates is at most once; the snapshot repairs anything missed."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from rtjobs.client import (
    CLOSE_REFUSED,
    ApiError,
    AuthError,
    Unreachable,
    WaitTimeout,
    backoff,
    is_terminal,
    ws_connect,
)

if TYPE_CHECKING:
    from rtjobs.client import Job


class Follower:
    def __init__(self, job: Job, *, on_progress: Callable[[dict], object] | None = None,
                 on_connection: Callable[[str, dict], object] | None = None,
                 give_up_after: float = 300.0) -> None:
        self.job = job
        self.on_progress = on_progress or (lambda job: None)
        self.on_connection = on_connection or (lambda state, detail: None)
        self.give_up_after = give_up_after
        self.attempt = 0
        self.down_since: float | None = None
        self.last_error = ""

    def _apply(self, snapshot: dict) -> None:
        if self.job.apply(snapshot):
            self.on_progress(self.job.snapshot)

    def _remaining(self, deadline: float | None) -> float | None:
        if deadline is None:
            return None
        left = deadline - time.monotonic()
        if left <= 0:
            raise WaitTimeout(f"Job {self.job.id} is still {self.job.status}; stopped waiting "
                              "(it goes on on the server).")
        return left

    def run(self, timeout: float | None) -> dict:
        deadline = time.monotonic() + timeout if timeout is not None else None
        while not is_terminal(self.job.snapshot):
            remaining = self._remaining(deadline)
            try:
                ws = ws_connect(self.job.client, open_timeout=min(10.0, remaining or 10.0))
            except InvalidStatus as exc:  # an HTTP answer instead of the upgrade
                status = exc.response.status_code
                if 400 <= status < 500 and status not in (408, 429):
                    kind = AuthError if status in (401, 403) else ApiError
                    raise kind(status, f"The WebSocket handshake at {self.job.client.ws_url} "
                                       f"was refused with HTTP {status}.") from None
                self._lost(f"HTTP {status}", deadline)
                continue
            except (OSError, InvalidHandshake, TimeoutError, ConnectionClosed) as exc:
                # ConnectionClosed: the server went away during the handshake itself (a
                # killed server; it escaped as a traceback once).
                self._lost(str(exc) or type(exc).__name__, deadline)
                continue
            with ws:
                self._session(ws, deadline)
        return self.job.snapshot

    def _lost(self, reason: str, deadline: float | None) -> None:
        """No connection: wait the backoff delay (within the deadline), or give up."""
        now = time.monotonic()
        if self.down_since is None:
            self.down_since = now
        if now - self.down_since >= self.give_up_after:
            raise Unreachable(f"Cannot reach {self.job.client.ws_url} for "
                              f"{self.give_up_after:.0f} s: {reason}.")
        delay = backoff(self.attempt)
        self.attempt += 1
        self.on_connection("reconnecting", {"reason": reason, "delay": delay,
                                            "attempt": self.attempt})
        remaining = self._remaining(deadline)
        time.sleep(delay if remaining is None else min(delay, remaining))

    def _session(self, ws, deadline: float | None) -> None:
        """Read frames until the job ends (return), the socket drops (return after the
        backoff), the token is refused (AuthError) or the deadline passes (WaitTimeout)."""
        try:
            while True:
                remaining = self._remaining(deadline)
                try:
                    frame = ws.recv(timeout=remaining)
                except TimeoutError:
                    continue  # _remaining raises at the deadline
                self._frame(frame)
                if is_terminal(self.job.snapshot):
                    return
        except ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            if code in CLOSE_REFUSED:
                raise AuthError(401 if code == 4401 else 403 if code == 4403 else 400,
                                self.last_error or CLOSE_REFUSED[code]) from None
            self._lost(f"connection closed ({code or 'no close frame'})", deadline)

    def _frame(self, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "jobs.snapshot":
            # "reconnected": a connection made after one failed or dropped (also when the
            # very first handshake was the one cut).
            self.on_connection("reconnected" if self.attempt else "connected", {})
            self.attempt, self.down_since = 0, None
            mine = [j for j in message.get("jobs") or [] if j.get("id") == self.job.id]
            if mine:
                self._apply(mine[0])
            else:  # older than the snapshot's recent jobs: ask for it
                self._apply(self.job.client.request("GET", f"/api/jobs/{self.job.id}/")["job"])
        elif kind == "job.update" and isinstance(message.get("job"), dict):
            self._apply(message["job"])
        elif kind == "error":
            self.last_error = str(message.get("error") or "")
