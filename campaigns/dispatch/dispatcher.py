"""The sender threads: chunks of pending recipients in, outcomes and the job's check out."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import connection as db_connection
from post_office.models import Email

from campaigns.dispatch.bookkeeping import Bookkeeping
from campaigns.dispatch.pace import Pace
from campaigns.dispatch.render import Renderer
from campaigns.dispatch.transport import Transport, TransportUnavailable
from campaigns.dispatch.values import Item, Outcome, Stats, Stopped
from campaigns.models import Recipient, RecipientStatus

logger = logging.getLogger(__name__)


class Dispatcher:
    """Feed pending recipients to `workers` threads; collect outcomes in the calling thread.

    Not `send_queued` (docs/architecture.md, trap 7: its lock is a local file, two servers
    would send twice). Each worker thread owns one transport connection (SMTP, file or locmem:
    whatever `settings.MAIL_TRANSPORT_BACKEND` names) and one database connection. Per email it
    commits, in ONE transaction, the outcome of the email it just sent and the `sending` mark of
    the next one, then sends. So a recipient is `sending` in the database only while its SMTP
    exchange may be in flight (or it waits out a throttling answer, `Transport.deliver`): after
    a crash those rows (at most one per connection) are the only ones that may have been
    delivered without being recorded. See README "Campaigns: what can be sent twice".

    The messages are built in the calling thread as it reads the chunks (`Renderer`), and every
    send waits for its turn on one `Pace` (CAMPAIGN_MAX_RATE) shared by the workers.
    """

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
        self.bookkeeping = Bookkeeping()
        self.work: queue.Queue[list[tuple[Item, EmailMessage]] | None] = queue.Queue()
        self.outcomes: queue.SimpleQueue[Outcome] = queue.SimpleQueue()
        self.stop = threading.Event()
        self.pace = Pace(settings.CAMPAIGN_MAX_RATE, self.stop)
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
        transport = Transport(self.stats, self, self.pace)
        try:
            while not self.stop.is_set():
                try:
                    chunk = self.work.get(timeout=0.2)
                except queue.Empty:
                    continue
                if chunk is None:
                    break
                self._send_chunk(chunk, transport)
        except BaseException as exc:
            logger.exception("campaign %s: a sender thread failed", self.job_id)
            with self._lock:
                self.fatal = self.fatal or exc
            self.stop.set()
        finally:
            transport.drop()
            db_connection.close()

    def _send_chunk(self, chunk: list[tuple[Item, EmailMessage]], transport: Transport) -> None:
        previous: Outcome | None = None
        for item, msg in chunk:
            if previous is not None and self.pace.limited:
                # The wait for a turn comes before the claim, so the last outcome is recorded
                # first: a row stays `sending` only while its exchange may be in flight.
                self.bookkeeping.commit(previous, None)
                self.outcomes.put(previous)
                previous = None
            if not self.pace.turn():
                break
            claimed = self.bookkeeping.commit(previous, item.recipient_id)
            if previous is not None:
                self.outcomes.put(previous)
                previous = None
            if not claimed:
                self.stats.add("skipped")
                continue
            try:
                previous = transport.deliver(msg, item)
            except Stopped as stopped:
                self.bookkeeping.release(item.recipient_id,
                                         maybe_duplicate=stopped.maybe_duplicate)
                break
        if previous is not None:
            self.bookkeeping.commit(previous, None)
            self.outcomes.put(previous)

    # --- called by the job thread -----------------------------------------------------------
    def _next_chunk(self, after: int) -> list[tuple[Item, EmailMessage]]:
        """The next pending recipients, each with its message built here, in the feeding
        thread: a template that cannot render stops the campaign before anyone is claimed."""
        rows = list(
            Recipient.objects.filter(job_id=self.job_id, status=RecipientStatus.PENDING,
                                     pk__gt=after)
            .order_by("pk")
            .values_list("pk", "email", "mail_id", "maybe_duplicate")
            [: self.chunk_size]
        )
        mails = {mail.pk: mail for mail in Email.objects.filter(
            pk__in=[mail_id for _pk, _email, mail_id, _dup in rows]
        ).prefetch_related("attachments")}
        chunk = []
        for pk, address, mail_id, maybe_duplicate in rows:
            mail = mails.get(mail_id)
            if mail is None:
                raise LookupError(f"Recipient {pk} ({address}): its post-office Email "
                                  f"{mail_id} no longer exists.")
            item = Item(pk, address, mail_id, mail.template_id, mail.context or {},
                        mail.message_id, mail.from_email, maybe_duplicate, mail=mail)
            chunk.append((item, self.renderer.message(item)))
        return chunk

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
                    last_pk = chunk[-1][0].recipient_id
                    self.work.put(chunk)
                self._drain(0.05)
                self.check()  # JobCancelled / JobStopped stop the workers below
        finally:
            self.stop.set()
            deadline = time.monotonic() + settings.MAIL_TIMEOUT + 5
            for thread in threads:
                thread.join(max(0.1, deadline - time.monotonic()))
            self._drain(0)
        if self.fatal is not None:
            raise self.fatal
        return self.stats
