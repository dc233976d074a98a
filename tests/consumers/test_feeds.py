"""A kind's feed on /ws/jobs/ (campaigns: `agreement.counts`): only the sockets of users the
kind permits get its frames, and they stop when the right is taken away; the consumer's own
frames are unaffected."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.contrib.auth.models import Group

from campaigns.models import Acceptance
from campaigns.selectors import users_unsigned
from jobs.broadcast import broadcaster
from jobs.groups import feed_group, feed_message, update_frame, user_group
from tests.campaigns.factories import make_agreement
from tests.consumers.test_jobs_consumer import connect
from tests.factories import ROLES, make_user

pytestmark = pytest.mark.django_db(transaction=True)

FRAME = {"type": "agreement.counts", "agreement": 1, "slug": "terms", "version": 2,
         "unsigned": 41, "reminded_recently": 0}


async def _push() -> None:
    await get_channel_layer().group_send(feed_group("campaign"), feed_message("campaign", FRAME))


async def test_a_sender_gets_the_campaign_feed_and_a_clerk_does_not():
    sender = await database_sync_to_async(make_user)(staff=True)
    clerk = await database_sync_to_async(make_user)(staff=True, roles=("exporter",))
    mine, _ = await connect(sender)
    theirs, _ = await connect(clerk)
    assert (await mine.receive_json_from())["type"] == "jobs.snapshot"
    assert (await theirs.receive_json_from())["type"] == "jobs.snapshot"
    await _push()
    assert await mine.receive_json_from() == FRAME
    assert await theirs.receive_nothing(timeout=0.3)
    await mine.disconnect()
    await theirs.disconnect()


async def test_the_feed_stops_within_the_recheck_once_the_right_is_gone(settings):
    settings.JOBS_WS_RECHECK = 0  # every push reads the user again
    sender = await database_sync_to_async(make_user)(staff=True)
    communicator, _ = await connect(sender)
    await communicator.receive_json_from()
    await _push()
    assert await communicator.receive_json_from() == FRAME

    group = await database_sync_to_async(Group.objects.get)(name=ROLES["sender"])
    await database_sync_to_async(sender.groups.remove)(group)
    await _push()
    assert await communicator.receive_nothing(timeout=0.3)
    # Still staff: the socket stays open and its own jobs still come.
    await get_channel_layer().group_send(
        user_group(sender.pk), {"type": "job.update", "frame": update_frame({"id": "y"})})
    assert await communicator.receive_json_from() == {"type": "job.update", "job": {"id": "y"}}
    await communicator.disconnect()


async def test_a_socket_leaves_the_feed_when_it_closes():
    sender = await database_sync_to_async(make_user)(staff=True)
    communicator, _ = await connect(sender)
    await communicator.receive_json_from()
    layer = get_channel_layer()
    assert layer.groups.get(feed_group("campaign"))
    await communicator.disconnect()
    assert not layer.groups.get(feed_group("campaign"))


async def test_acceptances_recorded_and_removed_push_the_agreements_figures():
    # The pushes of the signal go through the broadcaster: bound to this loop, as the server
    # binds its own (docs/architecture.md, trap 1).
    broadcaster.bind(asyncio.get_running_loop())
    try:
        sender = await database_sync_to_async(make_user)(staff=True)
        agreement = await database_sync_to_async(make_agreement)(slug="feed-terms")
        person = await database_sync_to_async(make_user)(staff=False)
        communicator, _ = await connect(sender)
        await communicator.receive_json_from()
        before = await database_sync_to_async(
            lambda: users_unsigned(agreement_id=agreement.pk).count())()

        acceptance = await database_sync_to_async(Acceptance.objects.create)(
            user=person, agreement=agreement)
        assert await communicator.receive_json_from(timeout=5) == {
            "type": "agreement.counts", "agreement": agreement.pk, "slug": "feed-terms",
            "version": 1, "unsigned": before - 1, "reminded_recently": 0}
        await database_sync_to_async(acceptance.delete)()
        frame = await communicator.receive_json_from(timeout=5)
        assert frame["unsigned"] == before
        await communicator.disconnect()
    finally:
        broadcaster.unbind()
