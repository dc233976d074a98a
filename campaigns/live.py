"""Live agreement counts: when an acceptance is recorded (the personal link, the admin, a
shell) or removed, every open dashboard of a user who may send reminders gets the agreement's
new figures as an `agreement.counts` frame (docs/asyncapi.yaml), without a reload.

Pushed through the campaign kind's feed (jobs.groups.feed_group): the sockets of users the
kind permits join it, and drop the frames within JOBS_WS_RECHECK of losing the right.
Delivery is at most once, like every push (docs/architecture.md, trap 3): the dashboard
reloads the list after every reconnect.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from campaigns.models import Agreement
from campaigns.selectors import agreement_counts
from campaigns.services import KIND
from jobs.broadcast import broadcaster
from jobs.groups import feed_group, feed_message

logger = logging.getLogger(__name__)

AGREEMENT_COUNTS = "agreement.counts"


def counts_frame(agreement: Agreement) -> dict[str, Any]:
    """The `agreement.counts` frame: the agreement's id, slug and version, and its figures."""
    return {"type": AGREEMENT_COUNTS, "agreement": agreement.pk, "slug": agreement.slug,
            "version": agreement.version, **agreement_counts(agreement=agreement)}


def counts_push(agreement_id: int) -> None:
    """Count now and push; an agreement deleted meanwhile pushes nothing."""
    agreement = Agreement.objects.filter(pk=agreement_id).first()
    if agreement is not None:
        broadcaster.send(feed_group(KIND), feed_message(KIND, counts_frame(agreement)))


def acceptance_changed(sender: Any, instance: Any, created: bool = True, raw: bool = False,
                       **_signal: Any) -> None:
    """post_save (new acceptances only) and post_delete of an Acceptance.

    Pushed once the transaction commits (at once outside one), so the count includes the
    change and a rolled-back acceptance pushes nothing. Two COUNTs per acceptance, in the
    request that recorded it: one more query pair per person who clicks a link. Not batched
    per transaction: deleting many acceptances in one go pushes once per row.
    """
    if raw or not created:  # loaddata; an edit of an existing acceptance changes no count
        return
    agreement_id = instance.agreement_id

    def push() -> None:
        try:
            counts_push(agreement_id)
        except Exception:  # the acceptance is recorded; a lost push is repaired by a reload
            logger.exception("agreement %s: the live counts could not be pushed", agreement_id)

    transaction.on_commit(push)
