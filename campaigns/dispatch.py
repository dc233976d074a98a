"""Send a campaign's own post-office emails over a few reused transport connections.

Not `send_queued` (DESIGN trap 7: its lock is a local file, two servers would send twice).
Each worker thread owns one transport connection (SMTP, file or locmem: whatever
`settings.MAIL_TRANSPORT_BACKEND` names) and one database connection. Per email it commits,
in ONE transaction, the outcome of the email it just sent and the `sending` mark of the next
one, then sends. So a recipient is `sending` in the database only while its SMTP exchange
may be in flight: after a crash those rows (at most one per connection) are the only ones
that may have been delivered without being recorded. See README "Campaigns: what can be
sent twice".
"""

from __future__ import annotations

import logging
import queue
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import connection as db_connection
from django.db import transaction
from django.utils import timezone
from post_office.models import STATUS, Email, EmailTemplate, Log
from post_office.settings import get_log_level, get_template_engine

from campaigns.models import Recipient, RecipientStatus

logger = logging.getLogger(__name__)


class TransportUnavailable(Exception):
    """The mail transport could not be reached several times in a row: stop the campaign."""


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


class Renderer:
    """post-office EmailTemplates compiled once per campaign, rendered per recipient."""

    def __init__(self) -> None:
        self._compiled: dict[int | None, tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()

    def _templates(self, template_id: int | None) -> tuple[Any, Any, Any]:
        with self._lock:
            if template_id not in self._compiled:
                template = EmailTemplate.objects.get(pk=template_id)
                engine = get_template_engine()
                self._compiled[template_id] = (
                    engine.from_string(template.subject),
                    engine.from_string(template.content),
                    engine.from_string(template.html_content),
                )
            return self._compiled[template_id]

    def message(self, item: Item) -> EmailMultiAlternatives:
        """The same message post-office would build from the Email's template and context."""
        subject_t, text_t, html_t = self._templates(item.template_id)
        subject = " ".join(subject_t.render(item.context).split())
        msg = EmailMultiAlternatives(
            subject=subject, body=text_t.render(item.context), from_email=item.from_email,
            to=[item.address],
            headers={"Message-ID": item.message_id} if item.message_id else None,
        )
        msg.attach_alternative(html_t.render(item.context), "text/html")
        return msg


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

    def __init__(self, stats: Stats, pool: Dispatcher) -> None:
        self.stats = stats
        self.pool = pool
        self.backend: Any = None
        self.messages = 0

    def _open(self) -> None:
        backend = get_connection(settings.MAIL_TRANSPORT_BACKEND, fail_silently=False)
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


class _Bookkeeping:
    """Per-email writes in raw SQL, prepared once per campaign: the ORM's per-call query
    building cost ~0.8 ms per email here, the raw statements ~0.2 ms (bench/campaign.py)."""

    def __init__(self) -> None:
        q = db_connection.ops.quote_name
        recipient, email, log = (q(Recipient._meta.db_table), q(Email._meta.db_table),
                                 q(Log._meta.db_table))
        # Table names come from _meta and are quoted; every value is a parameter.
        self.outcome = (
            f"UPDATE {recipient} SET status = %s, error = %s, retryable = %s, "  # noqa: S608
            "attempts = attempts + %s, maybe_duplicate = %s, finished_at = %s WHERE id = %s"
        )
        self.email = f"UPDATE {email} SET status = %s, last_updated = %s WHERE id = %s"  # noqa: S608
        self.log = (
            f"INSERT INTO {log} (email_id, date, status, exception_type, message) "  # noqa: S608
            "VALUES (%s, %s, %s, %s, %s)"
        )
        self.claim = (
            f"UPDATE {recipient} SET status = %s, attempted_at = %s "  # noqa: S608
            "WHERE id = %s AND status = %s"
        )
        # post-office's LOG_LEVEL: 0 nothing, 1 failures, 2 everything.
        level = get_log_level()
        self.log_sent, self.log_failed = level == 2, level in (1, 2)

    def commit(self, previous: Outcome | None, next_id: int | None) -> bool:
        """Record one outcome and mark the next recipient `sending`, in one transaction.

        Returns whether the next recipient was still pending (False: someone took it).
        """
        now = db_connection.ops.adapt_datetimefield_value(timezone.now())
        claimed = True
        with transaction.atomic(), db_connection.cursor() as cursor:
            if previous is not None:
                cursor.execute(self.outcome, [
                    RecipientStatus.SENT if previous.sent else RecipientStatus.FAILED,
                    previous.error, previous.retryable, previous.attempts,
                    previous.maybe_duplicate, now, previous.recipient_id,
                ])
                status = STATUS.sent if previous.sent else STATUS.failed
                cursor.execute(self.email, [status, now, previous.mail_id])
                if (self.log_sent if previous.sent else self.log_failed):
                    cursor.execute(self.log, [previous.mail_id, now, status,
                                              previous.exception_type, previous.error])
            if next_id is not None:
                cursor.execute(self.claim, [RecipientStatus.SENDING, now, next_id,
                                            RecipientStatus.PENDING])
                claimed = cursor.rowcount == 1
        return claimed


class Dispatcher:
    """Feed pending recipients to `workers` threads; collect outcomes in the calling thread."""

    def __init__(self, *, job_id: Any, workers: int, chunk_size: int,
                 on_outcomes: Callable[[list[Outcome]], None],
                 check: Callable[[], None]) -> None:
        self.job_id = job_id
        self.workers = max(1, workers)
        self.chunk_size = max(1, chunk_size)
        self.on_outcomes = on_outcomes
        self.check = check
        self.stats = Stats()
        self.renderer = Renderer()
        self.bookkeeping = _Bookkeeping()
        self.work: queue.Queue[list[Item] | None] = queue.Queue()
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.fatal: BaseException | None = None
        self._connect_failures = 0
        self._lock = threading.Lock()

    # --- called by workers ------------------------------------------------------------------
    def connect_failed(self, exc: BaseException) -> None:
        with self._lock:
            self._connect_failures += 1
            if self._connect_failures >= settings.CAMPAIGN_MAX_CONNECT_FAILURES:
                self.fatal = self.fatal or TransportUnavailable(
                    f"The mail server could not be reached {self._connect_failures} times in a "
                    f"row ({type(exc).__name__}: {exc}); the campaign stopped and can be resumed."
                )
                self.stop.set()

    def connect_succeeded(self) -> None:
        with self._lock:
            self._connect_failures = 0

    def _worker(self) -> None:
        transport = Transport(self.stats, self)
        try:
            while not self.stop.is_set():
                try:
                    chunk = self.work.get(timeout=0.2)
                except queue.Empty:
                    continue
                if chunk is None:
                    break
                previous: Outcome | None = None
                for item in chunk:
                    if self.stop.is_set():
                        break
                    claimed = self.bookkeeping.commit(previous, item.recipient_id)
                    if previous is not None:
                        self.outcomes.put(previous)
                        previous = None
                    if not claimed:
                        self.stats.add("skipped")
                        continue
                    try:
                        msg = self.renderer.message(item)
                    except Exception:
                        # A broken template breaks every email: stop the campaign, and give
                        # the row back (it was never sent) so a resume does not flag it.
                        Recipient.objects.filter(pk=item.recipient_id).update(
                            status=RecipientStatus.PENDING)
                        raise
                    previous = transport.deliver(msg, item)
                if previous is not None:
                    self.bookkeeping.commit(previous, None)
                    self.outcomes.put(previous)
        except BaseException as exc:
            logger.exception("campaign %s: a sender thread failed", self.job_id)
            with self._lock:
                self.fatal = self.fatal or exc
            self.stop.set()
        finally:
            transport.drop()
            db_connection.close()

    # --- called by the job thread -----------------------------------------------------------
    def _next_chunk(self, after: int) -> list[Item]:
        rows = (
            Recipient.objects.filter(job_id=self.job_id, status=RecipientStatus.PENDING,
                                     pk__gt=after)
            .order_by("pk")
            .values_list("pk", "email", "mail_id", "mail__template_id", "mail__context",
                         "mail__message_id", "mail__from_email", "maybe_duplicate")
            [: self.chunk_size]
        )
        return [Item(*row[:4], row[4] or {}, *row[5:]) for row in rows]

    def _drain(self, wait: float) -> None:
        batch: list[Outcome] = []
        try:
            batch.append(self.outcomes.get(timeout=wait))
            while True:
                batch.append(self.outcomes.get_nowait())
        except queue.Empty:
            pass
        if batch:
            self.on_outcomes(batch)

    def run(self) -> Stats:
        """Send every pending recipient of the job; raise what stopped it, if anything."""
        threads = [
            threading.Thread(target=self._worker, name=f"campaign-send-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        last_pk = 0
        exhausted = False
        try:
            while any(t.is_alive() for t in threads):
                while (not exhausted and not self.stop.is_set()
                       and self.work.qsize() < self.workers * 2):
                    chunk = self._next_chunk(last_pk)
                    if not chunk:
                        exhausted = True
                        for _ in threads:
                            self.work.put(None)
                        break
                    last_pk = chunk[-1].recipient_id
                    self.work.put(chunk)
                self._drain(0.05)
                self.check()  # JobCancelled / JobStopped stop the workers below
        finally:
            self.stop.set()
            deadline = time.monotonic() + settings.EMAIL_TIMEOUT + 5
            for thread in threads:
                thread.join(max(0.1, deadline - time.monotonic()))
            self._drain(0)
        if self.fatal is not None:
            raise self.fatal
        return self.stats
