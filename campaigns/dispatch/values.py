"""The values the dispatcher's parts hand each other: an email to send, its outcome, counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Item:
    recipient_id: int
    address: str
    mail_id: int
    template_id: int | None
    context: dict
    message_id: str | None
    from_email: str
    maybe_duplicate: bool = False
    # The post-office Email row itself, its attachments prefetched (the dispatcher loads it;
    # without it the Renderer builds an unsaved one from the fields above).
    mail: Any = field(default=None, compare=False, repr=False)


@dataclass
class Outcome:
    recipient_id: int
    mail_id: int
    sent: bool
    error: str = ""
    exception_type: str = ""
    retryable: bool = False
    attempts: int = 1
    maybe_duplicate: bool = False


class Stopped(Exception):
    """The campaign stopped while a sender waited to try an email (again): it was not sent by
    this run; `maybe_duplicate` when an earlier try may have reached the server."""

    def __init__(self, maybe_duplicate: bool) -> None:
        super().__init__("stopped before the email could be sent")
        self.maybe_duplicate = maybe_duplicate


@dataclass
class Stats:
    connections: int = 0
    reconnects: int = 0
    skipped: int = 0
    # 4xx answers ("try later"): each one waited out and tried again, not failed.
    throttled: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {"connections": self.connections, "reconnects": self.reconnects,
                    "skipped": self.skipped, "throttled": self.throttled}
