"""The mail transport connection: opening and reusing it, and which send errors mean what."""

from __future__ import annotations

import logging
import random
import smtplib
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage

from campaigns.dispatch.pace import Pace
from campaigns.dispatch.values import Item, Outcome, Stats, Stopped
from realtime_site.mail import transport_connection

logger = logging.getLogger(__name__)

MAX_BACKOFF = 30.0  # seconds: one wait after a throttling answer


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


def _codes(exc: BaseException) -> list[int]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return [int(code or 0) for code, _text in exc.recipients.values()]
    if isinstance(exc, smtplib.SMTPResponseException):
        return [int(exc.smtp_code or 0)]
    return []


def _throttled(exc: BaseException) -> bool:
    """A 4xx answer (421 4.7.0, 450, 451 4.7.1 "rate limited, try later"...), to the greeting,
    MAIL, RCPT or DATA: the server did not take the message and asks for it later.

    Every 4xx, not only 4.7.x: RFC 5321 makes any of them "not now, the same command may
    succeed later", and relays word their rate limits many ways. Refused, so never delivered.
    """
    codes = _codes(exc)
    return bool(codes) and all(400 <= code < 500 for code in codes)


def backoff(waited: int) -> float:
    """Seconds before the next try of an email that got `waited` + 1 throttling answers.

    CAMPAIGN_THROTTLE_BACKOFF doubled per answer, at most MAX_BACKOFF, plus up to a quarter
    more so that connections throttled together do not come back in step. With the defaults
    (1 s, 6 tries): 1, 2, 4, 8, 16, 30 s, about a minute in all, the longest window relays
    usually count in (per second, then per minute); after that the email fails, retryable.
    """
    seconds = min(MAX_BACKOFF, settings.CAMPAIGN_THROTTLE_BACKOFF * 2 ** waited)
    return seconds * (1 + random.random() / 4)


def _closes_session(exc: BaseException) -> bool:
    return isinstance(exc, smtplib.SMTPRecipientsRefused) and any(
        code == 421 for code, _text in exc.recipients.values())


class Transport:
    """One worker's reused connection to the mail transport."""

    def __init__(self, stats: Stats, pool: Pool, pace: Pace) -> None:
        self.stats = stats
        self.pool = pool
        self.pace = pace
        self.backend: Any = None
        self.messages = 0

    def _open(self) -> None:
        backend = transport_connection()
        try:
            backend.open()
        except Exception as exc:
            # A 4xx greeting ("421 too many connections") is a throttle: the server is up.
            # Any other failure counts, 4xx to STARTTLS or AUTH too (a setup that never works).
            if not (isinstance(exc, smtplib.SMTPConnectError) and _throttled(exc)):
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

    def send(self, msg: EmailMessage) -> None:
        if self.backend is not None and self.messages >= settings.CAMPAIGN_MESSAGES_PER_CONNECTION:
            self.drop()  # many servers cap messages per session; start a fresh one first
        if self.backend is None:
            self._open()
        self.messages += 1
        self.backend.send_messages([msg])

    def deliver(self, msg: EmailMessage, item: Item) -> Outcome:
        """Send (the caller took the pace's turn); a throttling answer is waited out and tried
        again (`backoff`), a lost connection is reopened and tried once more.

        Raises Stopped when the campaign stopped while the email waited for another try.
        """
        maybe_duplicate = item.maybe_duplicate
        attempts = waited = 0
        first: BaseException | None = None  # the connection error that made it reconnect
        while True:
            attempts += 1
            try:
                self.send(msg)
                return Outcome(item.recipient_id, item.mail_id, True, attempts=attempts,
                               maybe_duplicate=maybe_duplicate)
            except Exception as exc:
                error = exc
            if _throttled(error):
                if 421 in _codes(error):
                    self.drop()  # smtplib closed the session itself
                self.stats.add("throttled")
                if waited >= settings.CAMPAIGN_THROTTLE_RETRIES:
                    break
                delay = backoff(waited)
                waited += 1
            elif _is_connection_error(error) and first is None:
                # The connection broke. If it broke after the end of DATA the server may
                # already have queued the message: the retry can then deliver it twice
                # (flagged).
                maybe_duplicate = maybe_duplicate or self.backend is not None
                self.drop()
                self.stats.add("reconnects")
                first, delay = error, 0.0
            else:
                break
            if not self.pace.turn(delay):
                raise Stopped(maybe_duplicate)
        lost = _is_connection_error(error)
        if lost or _closes_session(error):
            self.drop()
        reason, retryable = _describe(error)
        if waited:
            reason = f"{reason} (still refused after {waited} waits)"
        if first is not None:
            reason = (f"{reason} (after reconnecting; first error: "
                      f"{type(first).__name__}: {first})")
        return Outcome(item.recipient_id, item.mail_id, False, reason[:1000],
                       type(error).__name__, retryable or lost, attempts=attempts,
                       maybe_duplicate=maybe_duplicate)
