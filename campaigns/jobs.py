"""The campaign job: snapshot recipients, send their reminders, mail the owner a summary."""

from __future__ import annotations

import contextlib
import logging
import time
from typing import Any

from django.conf import settings

from campaigns.dispatch import Dispatcher, Outcome
from campaigns.models import Recipient
from campaigns.services import KIND, recipients_carry_over, recipients_snapshot
from campaigns.summary import campaign_summary_send, summary_counts
from jobs.kinds import JobOutcome
from jobs.models import Job, JobStatus
from jobs.progress import JobCancelled, JobStopped, Reporter

logger = logging.getLogger(__name__)


def run_campaign(job: Job, reporter: Reporter) -> JobOutcome:
    """Run one campaign job with any Reporter (the runner's, or a foreground one)."""
    extra: dict[str, Any] = {}
    started = time.monotonic()
    try:
        if not Recipient.objects.filter(job_id=job.pk).exists():
            if job.resumed_from_id:
                # The job we continue may have died unnoticed: its owner gets its summary first.
                campaign_summary_send(job_id=job.resumed_from_id)
                reporter.set_message("Carrying over the recipients not sent yet")
                extra.update(recipients_carry_over(job_id=job.pk, from_job_id=job.resumed_from_id))
            else:
                reporter.set_message("Choosing recipients")
                recipients_snapshot(job_id=job.pk)
        extra["snapshot_seconds"] = round(time.monotonic() - started, 2)
        total = Recipient.objects.filter(job_id=job.pk).count()
        reporter.set_total(total)
        reporter.set_message(f"Sending {total} reminders")

        def on_outcomes(batch: list[Outcome]) -> None:
            sent = sum(1 for o in batch if o.sent)
            failed = len(batch) - sent
            if sent:
                reporter.advance(sent)
            if failed:
                last = next(o for o in reversed(batch) if not o.sent)
                reporter.fail_item(failed, reason=f"Failed: {last.error}"[:300])

        dispatcher = Dispatcher(
            job_id=job.pk, workers=settings.CAMPAIGN_CONNECTIONS,
            chunk_size=settings.CAMPAIGN_CHUNK_SIZE, on_outcomes=on_outcomes,
            check=reporter.check_cancelled,
        )
        try:
            stats = dispatcher.run()
        finally:
            extra.update(connections=dispatcher.stats.connections,
                         reconnects=dispatcher.stats.reconnects,
                         send_seconds=round(time.monotonic() - started
                                            - extra["snapshot_seconds"], 2))
    except JobCancelled:
        _summary(job, reporter, JobStatus.CANCELLED, extra=extra)
        raise
    except JobStopped:
        _summary(job, reporter, None, extra=extra)
        raise
    except Exception as exc:
        _summary(job, reporter, JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}",
                 extra=extra)
        raise
    counts = summary_counts(job_id=job.pk)
    reporter.set_counts(done=counts["sent"], failed=counts["failed"])
    _summary(job, reporter, JobStatus.SUCCEEDED, extra=extra)
    return JobOutcome(
        message=f"{counts['sent']} sent, {counts['failed']} failed",
        data={**counts, **extra, "skipped": stats.skipped},
    )


def _summary(job: Job, reporter: Reporter, status: str | None, *, error: str = "",
             extra: dict | None = None) -> None:
    # JobStopped: the row is already final; the summary still goes out.
    with contextlib.suppress(Exception):
        reporter.flush()
    try:
        campaign_summary_send(job_id=job.pk, status=status, error=error,
                              extra={"connections": (extra or {}).get("connections")})
    except Exception:
        logger.exception("campaign %s: summary failed", job.pk)


def register() -> None:
    from campaigns.services import campaign_resume
    from jobs import kinds

    kinds.register(KIND, run_campaign, resume=campaign_resume)
