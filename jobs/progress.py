"""The Reporter: the only way job code tells the world how it is doing.

It throttles and coalesces (the latest state wins, at most one write and one push every
`JOBS_PROGRESS_INTERVAL`, ~200 ms), always writes and pushes status changes and the final
state, persists before it pushes (docs/architecture.md, trap 3), and checks the cancel flag
cooperatively. Every write goes through `JobQuerySet.transition`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from jobs.broadcast import Broadcaster
from jobs.broadcast import broadcaster as default_broadcaster
from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)


class JobCancelled(Exception):
    """Raised inside job code when the owner asked to cancel."""


class JobStopped(Exception):
    """Raised inside job code when another party finalized the job (e.g. marked interrupted)."""


class Reporter:
    """Progress of one running job: counts, message, cancel checks, the final state."""

    def __init__(
        self,
        job: Job,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sender: Broadcaster | None = None,
    ) -> None:
        self.job_id = job.pk
        self.owner_id = job.owner_id
        self.total: int | None = job.total
        self.done = job.done
        self.failed = job.failed
        self.message = job.message
        self.interval = settings.JOBS_PROGRESS_INTERVAL if interval is None else interval
        self.clock = clock
        self.sender = sender or default_broadcaster
        self._last_flush: float | None = None
        self._last_cancel_check: float | None = None
        self._dirty = False
        self._cancel_seen = False
        self.flushes = 0
        self.last_snapshot: dict | None = None
        # What the job wants its end-of-job hook to know, whatever the ending (JobKind.on_end).
        self.notes: dict[str, Any] = {}

    # --- calls from job code ------------------------------------------------------------
    def set_total(self, total: int) -> None:
        """Set the number of items; sent at once (it changes what every bar means)."""
        self.total = max(0, int(total))
        self._dirty = True
        self.flush()

    def advance(self, n: int = 1, message: str | None = None) -> None:
        """Count n items done."""
        self.done += n
        if message is not None:
            self.message = message[:300]
        self._touch()

    def fail_item(self, n: int = 1, reason: str | None = None) -> None:
        """Count n items failed (the job goes on)."""
        self.failed += n
        if reason is not None:
            self.message = reason[:300]
        self._touch()

    def set_message(self, message: str) -> None:
        """Change the human line under the bar."""
        self.message = message[:300]
        self._touch()

    def set_counts(self, *, done: int | None = None, failed: int | None = None) -> None:
        """Set absolute counts (a resumed job starts from what was already done)."""
        if done is not None:
            self.done = done
        if failed is not None:
            self.failed = failed
        self._touch()

    def check_cancelled(self) -> None:
        """Raise JobCancelled when cancel was asked; reads the flag at most once per interval."""
        if self._cancel_seen:
            raise JobCancelled()
        now = self.clock()
        if self._last_cancel_check is not None and now - self._last_cancel_check < self.interval:
            return
        self._last_cancel_check = now
        row = Job.objects.filter(pk=self.job_id).values_list("cancel_requested", "status").first()
        if row is None:
            raise JobStopped("the job row is gone")
        cancel_requested, status = row
        if status != JobStatus.RUNNING:
            raise JobStopped(f"the job is {status}")
        if cancel_requested:
            self._cancel_seen = True
            raise JobCancelled()

    # --- throttling -------------------------------------------------------------------------
    def _touch(self) -> None:
        self._dirty = True
        now = self.clock()
        if self._last_flush is None or now - self._last_flush >= self.interval:
            self.flush()

    def flush(self) -> dict | None:
        """Persist and push the current counts now, if anything changed since the last flush."""
        if not self._dirty:
            return self.last_snapshot
        self._last_flush = self.clock()
        self._dirty = False
        job = Job.objects.running().transition(
            self.job_id, sender=self.sender, total=self.total, done=self.done,
            failed=self.failed, message=self.message, heartbeat_at=timezone.now(),
        )
        if job is None:
            # Someone else (the stale-job sweeper, a shutdown) made the job terminal.
            raise JobStopped("the job is no longer running")
        if job.cancel_requested:
            self._cancel_seen = True
        self.flushes += 1
        self.last_snapshot = job.pushed_snapshot
        return self.last_snapshot

    # --- the end --------------------------------------------------------------------------
    def finish(
        self,
        status: str,
        *,
        message: str | None = None,
        error: str = "",
        result_file: str = "",
        result_name: str = "",
        result: dict | None = None,
        expires_at: datetime | None = None,
    ) -> dict | None:
        """Write the terminal state, then push it; returns None when the job was already final."""
        if message is not None:
            self.message = message[:300]
        now = timezone.now()
        fields: dict[str, Any] = {
            "status": status, "total": self.total, "done": self.done, "failed": self.failed,
            "message": self.message, "error": error, "finished_at": now, "heartbeat_at": now,
        }
        if result_file:
            fields.update(result_file=result_file, result_name=result_name, expires_at=expires_at)
        if result is not None:
            fields["result"] = result
        job = Job.objects.running().transition(self.job_id, sender=self.sender, **fields)
        if job is None:
            return None
        self._dirty = False
        self.last_snapshot = job.pushed_snapshot
        return self.last_snapshot
