"""The mail transport connection: opening and reusing it, and which send errors mean what."""

from __future__ import annotations

import logging
import smtplib
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from campaigns.dispatch.values import Item, Outcome, Stats
from realtime_site.mail import transport_connection

logger = logging.getLogger(__name__)


class TransportUnavailable(Exception):
    """The mail transport could not be reached several times in a row: stop the campaign."""


class Pool(Protocol):
    """Where a Transport reports whether it could open a connection (the Dispatcher)."""

    def connect_failed(self, exc: BaseException) -> None: ...

    def connect_succeeded(self) -> None: ...


def _describe(exc: BaseException) -> tuple[str, bool]:
    """(reason, retryable) for an exception that concerns one recipient."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()), (0, b""))
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return f"{code} {text}".strip(), not 500 <= int(code or 0) < 600
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return f"{exc.smtp_code} {text}".strip(), not 500 <= int(exc.smtp_code or 0) < 600
    return f"{type(exc).__name__}: {exc}"[:1000], False


def _is_connection_error(exc: BaseException) -> bool:
    """The connection is unusable (dropped, reset, timed out, 421 closing)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return False
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return True
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code == 421
    if isinstance(exc, smtplib.SMTPException):
        return False
    return isinstance(exc, OSError)


def _closes_session(exc: BaseException) -> bool:
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and any(
        code == 421 for code, _text in exc.recipients.values())


class Transport:
    """One worker's reused connection to the mail transport."""

    def __init__(self, stats: Stats, pool: Pool) -> None:
        self.stats = stats
        self.pool = pool
        self.backend: Any = None
        self.messages = 0

    def _open(self) -> None:
        backend = transport_connection()
        try:
            backend.open()
        except Exception as exc:
            self.pool.connect_failed(exc)
            raise
        self.pool.connect_succeeded()
        self.stats.add("connections")
        self.backend = backend
        self.messages = 0

    def drop(self) -> None:
        if self.backend is not None:
            try:
                self.backend.close()
            except Exception:  # closing a dead socket: nothing left to save
                logger.debug("closing a broken mail connection failed", exc_info=True)
            self.backend = None

    def send(self, msg: EmailMultiAlternatives) -> None:
        if self.backend is not None and self.messages >= settings.CAMPAIGN_MESSAGES_PER_CONNECTION:
            self.drop()  # many servers cap messages per session; start a fresh one first
        if self.backend is None:
            self._open()
        self.messages += 1
        self.backend.send_messages([msg])

    def deliver(self, msg: EmailMultiAlternatives, item: Item) -> Outcome:
        """Send once; on a connection error reconnect and send once more."""
        try:
            self.send(msg)
            return Outcome(item.recipient_id, item.mail_id, True,
                           maybe_duplicate=item.maybe_duplicate)
        except Exception as exc:
            if not _is_connection_error(exc):
                if _closes_session(exc):
                    self.drop()  # smtplib closed the socket itself (421 to RCPT)
                reason, retryable = _describe(exc)
                return Outcome(item.recipient_id, item.mail_id, False, reason,
                               type(exc).__name__, retryable, maybe_duplicate=item.maybe_duplicate)
            first = exc
        # The connection broke. If it broke after the end of DATA the server may already
        # have queued the message: the retry can then deliver it twice (flagged).
        maybe_duplicate = item.maybe_duplicate or self.backend is not None
        self.drop()
        self.stats.add("reconnects")
        try:
            self.send(msg)
            return Outcome(item.recipient_id, item.mail_id, True, attempts=2,
                           maybe_duplicate=maybe_duplicate)
        except Exception as exc:
            lost = _is_connection_error(exc)
            if lost:
                self.drop()
            reason, retryable = _describe(exc)
            return Outcome(item.recipient_id, item.mail_id, False,
                           f"{reason} (after reconnecting; first error: "
                           f"{type(first).__name__}: {first})"[:1000],
                           type(exc).__name__, retryable or lost, attempts=2,
                           maybe_duplicate=maybe_duplicate)
