"""The values the dispatcher's parts hand each other: an email to send, its outcome, counters."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


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


@dataclass
class Stats:
    connections: int = 0
    reconnects: int = 0
    skipped: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, name: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, name, getattr(self, name) + n)
