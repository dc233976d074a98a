"""JobsConsumer through the real ASGI stack (Origin check, auth) with WebsocketCommunicator."""

from __future__ import annotations

import json
import uuid

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from jobs.groups import update_frame, user_group
from jobs.models import Job, JobStatus
from realtime_site.asgi import application
from tests.factories import make_user

pytestmark = pytest.mark.django_db(transaction=True)

ORIGIN = (b"origin", b"http://127.0.0.1")
HOST = (b"host", b"127.0.0.1")  # what every real client sends; the Origin must match it


@database_sync_to_async
def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


@database_sync_to_async
def create(model, **fields):
    return model.objects.create(**fields)


async def connect(user=None, origin=ORIGIN) -> tuple[WebsocketCommunicator, bool]:
    headers = [HOST, origin] if origin else [HOST]
    if user is not None:
        headers.append((b"cookie", await session_cookie(user)))
    communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def expect_close(communicator: WebsocketCommunicator, code: int) -> None:
    message = await communicator.receive_output(timeout=3)
    assert message == {"type": "websocket.close", "code": code}


async def test_anonymous_accepted_then_closed_4401():
    communicator, connected = await connect()
    assert connected
    await expect_close(communicator, 4401)


async def test_non_staff_closed_4403():
    user = await database_sync_to_async(make_user)(staff=False)
    communicator, connected = await connect(user)
    assert connected
    await expect_close(communicator, 4403)


async def test_foreign_origin_is_refused():
    user = await database_sync_to_async(make_user)()
    communicator, connected = await connect(user, origin=(b"origin", b"http://evil.example"))
    assert not connected


async def test_snapshot_on_connect_holds_only_my_jobs():
    me = await database_sync_to_async(make_user)()
    other = await database_sync_to_async(make_user)()
    mine = await create(Job, kind="demo", title="mine", owner=me)
    await create(Job, kind="demo", title="theirs", owner=other)
    communicator, _ = await connect(me)
    snapshot = await communicator.receive_json_from()
    assert snapshot["type"] == "jobs.snapshot"
    assert [job["id"] for job in snapshot["jobs"]] == [str(mine.pk)]
    await communicator.disconnect()


async def test_updates_to_my_group_are_forwarded_others_are_not():
    me = await database_sync_to_async(make_user)()
    other = await database_sync_to_async(make_user)()
    communicator, _ = await connect(me)
    await communicator.receive_json_from()
    layer = get_channel_layer()
    await layer.group_send(user_group(other.pk),
                           {"type": "job.update", "frame": update_frame({"id": "x"})})
    await layer.group_send(user_group(me.pk),
                           {"type": "job.update", "frame": update_frame({"id": "y"})})
    assert await communicator.receive_json_from() == {"type": "job.update", "job": {"id": "y"}}
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


@pytest.mark.parametrize(
    "frame, error",
    [
        ("{not json", "Message is not valid JSON."),
        ("[1, 2]", "Message must be a JSON object with an 'action'."),
        ('"sync"', "Message must be a JSON object with an 'action'."),
        ("{}", "Missing 'action'; use sync, ping or cancel."),
        ('{"action": 5}', "Missing 'action'; use sync, ping or cancel."),
        ('{"action": "drop_tables"}', "Unknown action 'drop_tables'; use sync, ping or cancel."),
        ('{"action": "cancel"}', "cancel needs 'job': the job id as a string."),
        ('{"action": "cancel", "job": 12}', "cancel needs 'job': the job id as a string."),
        ('{"action": "cancel", "job": "nope"}', "No such job."),
        ("x" * 5000, "Message too large (limit 4096 characters)."),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_open(frame, error):
    me = await database_sync_to_async(make_user)()
    communicator, _ = await connect(me)
    await communicator.receive_json_from()
    await communicator.send_to(text_data=frame)
    reply = await communicator.receive_json_from()
    assert reply["type"] == "error" and reply["error"] == error
    await communicator.send_to(text_data=json.dumps({"action": "ping"}))
    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()


async def test_binary_frame_gets_an_error():
    me = await database_sync_to_async(make_user)()
    communicator, _ = await connect(me)
    await communicator.receive_json_from()
    await communicator.send_to(bytes_data=b"\x00\x01")
    assert (await communicator.receive_json_from())["type"] == "error"
    await communicator.disconnect()


async def test_cancel_of_someone_elses_job_is_refused():
    me = await database_sync_to_async(make_user)()
    other = await database_sync_to_async(make_user)()
    theirs = await create(Job, kind="demo", title="theirs", owner=other,
                          status=JobStatus.RUNNING)
    communicator, _ = await connect(me)
    await communicator.receive_json_from()
    for job_id in (str(theirs.pk), str(uuid.uuid4())):
        await communicator.send_json_to({"action": "cancel", "job": job_id})
        reply = await communicator.receive_json_from()
        assert reply == {"type": "error", "error": "No such job.", "job": job_id}
    refreshed = await database_sync_to_async(Job.objects.get)(pk=theirs.pk)
    assert refreshed.cancel_requested is False
    await communicator.disconnect()


async def test_cancel_my_job_and_sync():
    me = await database_sync_to_async(make_user)()
    mine = await create(Job, kind="demo", title="mine", owner=me)
    communicator, _ = await connect(me)
    await communicator.receive_json_from()
    await communicator.send_json_to({"action": "cancel", "job": str(mine.pk)})
    reply = await communicator.receive_json_from()
    assert reply["type"] == "job.update" and reply["job"]["status"] == "cancelled"
    await communicator.send_json_to({"action": "cancel", "job": str(mine.pk)})
    # The group's copy of the cancelled snapshot may arrive first.
    while (message := await communicator.receive_json_from())["type"] == "job.update":
        assert message["job"]["status"] == "cancelled"
    assert message["error"] == "The job is already cancelled."
    await communicator.send_json_to({"action": "sync"})
    while (message := await communicator.receive_json_from())["type"] != "jobs.snapshot":
        pass
    assert message["jobs"][0]["status"] == "cancelled"
    await communicator.disconnect()


async def test_logged_out_session_closes_on_next_message():
    me = await database_sync_to_async(make_user)()
    communicator, _ = await connect(me)
    await communicator.receive_json_from()
    from django.contrib.sessions.models import Session

    await database_sync_to_async(Session.objects.all().delete)()
    await communicator.send_json_to({"action": "sync"})
    await expect_close(communicator, 4401)
