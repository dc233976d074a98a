"""The campaign job: snapshot recipients, send their reminders, mail the owner a summary."""

from __future__ import annotations

import contextlib
import time
from typing import Any

from django.conf import settings

from campaigns.dispatch import Dispatcher, Outcome
from campaigns.models import Recipient
from campaigns.services import recipients_carry_over, recipients_snapshot
from campaigns.summary import campaign_summary_send, summary_counts
from jobs.kinds import JobOutcome
from jobs.models import Job
from jobs.numbers import fmt_count, fmt_number
from jobs.progress import Reporter


def run_campaign(job: Job, reporter: Reporter) -> JobOutcome:
    """Run one campaign job with any Reporter (the runner's, or a foreground one).

    Whatever the ending, the owner's summary is sent by the end-of-job hook (campaigns.kind);
    what only this run knows (SMTP connections) goes to it through `reporter.notes`.
    """
    extra: dict[str, Any] = {}
    started = time.monotonic()
    if not Recipient.objects.filter(job_id=job.pk).exists():
        if job.resumed_from_id:
            # The job we continue may have died unnoticed: its owner gets its summary first.
            campaign_summary_send(job_id=job.resumed_from_id)
            reporter.set_message("Carrying over the recipients not sent yet")
            extra.update(recipients_carry_over(job_id=job.pk, from_job_id=job.resumed_from_id))
        else:
            reporter.set_message("Choosing recipients")
            extra.update(recipients_snapshot(job_id=job.pk))
    extra["snapshot_seconds"] = round(time.monotonic() - started, 2)
    total = Recipient.objects.filter(job_id=job.pk).count()
    reporter.set_total(total)
    skipped = extra.get("skipped_recent", 0)
    reporter.notes["skipped_recent"] = skipped
    reporter.set_message(f"Sending {fmt_count(total, 'reminder')}" + (
        f" ({fmt_number(skipped)} reminded recently left out)" if skipped else ""))

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
        reporter.notes["connections"] = dispatcher.stats.connections
        reporter.notes["throttled"] = dispatcher.stats.throttled
        extra.update(connections=dispatcher.stats.connections,
                     reconnects=dispatcher.stats.reconnects,
                     throttled=dispatcher.stats.throttled,
                     send_seconds=round(time.monotonic() - started
                                        - extra["snapshot_seconds"], 2))
        # The last counts reach the row whatever the ending (JobStopped: already final).
        # Any failure here must not hide the one that ended the run.
        with contextlib.suppress(Exception):
            reporter.flush()
    counts = summary_counts(job_id=job.pk)  # the runner writes these as done/failed too
    return JobOutcome(
        message=f"{fmt_number(counts['sent'])} sent, {fmt_number(counts['failed'])} failed",
        data={**counts, **extra, "skipped": stats.skipped},
    )
