"""Before sending: GET /api/campaigns/preview/ (the audience, the last campaign, one
recipient's reminder as the campaign renders it) and POST /api/campaigns/test/ (that reminder
to the admin's own address, through a real SMTP server, rate-limited)."""

from __future__ import annotations

import pytest
from django.test import Client

from campaigns.dispatch import Dispatcher
from campaigns.links import link_read
from campaigns.models import Recipient, ReminderTestSend
from campaigns.services import campaign_start, recipients_snapshot
from jobs.models import Job
from tests.campaigns.factories import make_agreement, make_audience, make_users
from tests.factories import PASSWORD, make_user
from tests.services import free_port

pytestmark = pytest.mark.django_db
OWNER = "sender@example.test"


def _client(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def _link_of(text: str) -> str:
    return next(word for word in text.split() if "/agreements/accept/" in word)


def test_the_preview_is_the_reminder_the_campaign_sends_but_with_the_admins_own_link():
    owner, agreement, addresses = make_audience(3, owner_email=OWNER)
    answer = _client(owner).get(f"/api/campaigns/preview/?agreement={agreement.slug}")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert (body["recipients"], body["skipped_recent"], body["unsigned"]) == (3, 0, 3)
    assert body["last_campaign"] is None and body["agreement"]["id"] == agreement.pk
    preview = body["preview"]
    first = addresses[0]
    assert preview["recipient"]["email"] == first and preview["to"] == [first]

    # The message the campaign itself builds for that recipient's row.
    job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)  # never run: no commit
    recipients_snapshot(job_id=job.pk)
    dispatcher = Dispatcher(job_id=job.pk, workers=1, chunk_size=100,
                            on_outcomes=lambda _batch: None, check=lambda: None)
    built = {item.address: msg for item, msg in dispatcher._next_chunk(0)}[first]
    html = dict((mime, content) for content, mime in built.alternatives)["text/html"]
    assert (preview["subject"], preview["from"]) == (built.subject, built.from_email)
    real_link, shown_link = _link_of(built.body), _link_of(preview["text"])
    assert preview["text"] == built.body.replace(real_link, shown_link)
    assert preview["html"] == html.replace(real_link, shown_link)
    # The link shown is the viewer's own: another person's would be their credential.
    recipient = Recipient.objects.get(job=job, email=first)
    assert link_read(real_link.rsplit("/", 2)[-2]).user_id == recipient.user_id
    assert link_read(shown_link.rsplit("/", 2)[-2]).user_id == owner.pk


def test_the_preview_counts_like_a_start_recently_reminded_included_or_not():
    owner, agreement, _addresses = make_audience(4, owner_email=OWNER)
    job = campaign_start(owner_id=owner.pk, agreement_id=agreement.pk)
    recipients_snapshot(job_id=job.pk)
    Recipient.objects.filter(job=job).update(status="sent", attempted_at=job.created_at)
    Job.objects.filter(pk=job.pk).update(status="succeeded", total=4, done=4)
    make_users(1)
    client = _client(owner)
    body = client.get(f"/api/campaigns/preview/?agreement={agreement.pk}").json()
    assert (body["recipients"], body["skipped_recent"], body["unsigned"]) == (1, 4, 5)
    last = body["last_campaign"]
    assert (last["job_id"], last["recipients"], last["sent"], last["failed"]) == (
        str(job.pk), 4, 4, 0)
    body = client.get(f"/api/campaigns/preview/?agreement={agreement.pk}"
                      "&include_recent=true").json()
    assert (body["recipients"], body["skipped_recent"]) == (5, 0)


def test_with_nobody_left_the_preview_is_the_admins_own():
    owner, agreement, _ = make_audience(0, owner_email=OWNER)
    body = _client(owner).get(f"/api/campaigns/preview/?agreement={agreement.slug}").json()
    assert body["recipients"] == 0 and body["preview"]["recipient"] is None
    assert body["preview"]["to"] == [OWNER]


@pytest.mark.parametrize("query", ["", "agreement=", "agreement=nope", "agreement=99999999",
                                   "agreement=" + "x" * 5000, "agreement=%00",
                                   "agreement=1&include_recent=maybe"])
def test_hostile_preview_queries_are_400s_with_a_sentence(query):
    owner, agreement, _ = make_audience(1, owner_email=OWNER)
    query = query.replace("agreement=1&", f"agreement={agreement.pk}&")
    response = _client(owner).get(f"/api/campaigns/preview/?{query}")
    assert response.status_code == 400, (query, response.content)
    assert response.json()["error"]


def test_without_the_right_to_send_reminders_there_is_no_preview_and_no_test():
    agreement = make_agreement()
    clerk = make_user(staff=True, roles=("exporter",))
    client = _client(clerk)
    preview = client.get(f"/api/campaigns/preview/?agreement={agreement.slug}")
    assert preview.status_code == 403 and "send reminder" in preview.json()["error"]
    test = client.post("/api/campaigns/test/", {"agreement": agreement.slug},
                       content_type="application/json")
    assert test.status_code == 403
    assert not ReminderTestSend.objects.exists()
    assert Client().get(f"/api/campaigns/preview/?agreement={agreement.slug}").status_code == 401


def test_a_test_goes_to_the_admin_alone_through_smtp_and_is_no_recipient(sink_factory,
                                                                        smtp_settings):
    owner, agreement, addresses = make_audience(2, owner_email=OWNER)
    sink = sink_factory()
    with smtp_settings(sink):
        answer = _client(owner).post("/api/campaigns/test/", {"agreement": agreement.slug},
                                     content_type="application/json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["sent_to"] == OWNER and body["tests_left"] == 4 and body["limit"] == 5
    assert sink.wait_for(1) and sink.recipients() == {OWNER: 1}
    message = sink.parsed()[0]
    assert message["Subject"] == body["subject"] == (
        "Please accept our Terms & Conditions (version 1)")
    assert message.is_multipart() and message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    assert link_read(_link_of(text).rsplit("/", 2)[-2]).user_id == owner.pk
    # Not a campaign recipient: no row, no job, and nobody counts as reminded.
    assert not Recipient.objects.exists() and not Job.objects.exists()
    preview = _client(owner).get(f"/api/campaigns/preview/?agreement={agreement.slug}").json()
    assert (preview["recipients"], preview["skipped_recent"]) == (2, 0)
    sent = ReminderTestSend.objects.get()
    assert (sent.user_id, sent.email, sent.error, sent.mail.status) == (owner.pk, OWNER, "", 0)


def test_tests_are_rate_limited_per_admin_with_retry_after(settings, sink_factory,
                                                           smtp_settings):
    settings.CAMPAIGN_TEST_SENDS_PER_HOUR = 2
    owner, agreement, _ = make_audience(1, owner_email=OWNER)
    other = make_user(staff=True, email="other-sender@example.test")
    sink = sink_factory()
    client = _client(owner)
    with smtp_settings(sink):
        for _ in range(2):
            assert client.post("/api/campaigns/test/", {"agreement": agreement.pk}).status_code \
                == 200
        refused = client.post("/api/campaigns/test/", {"agreement": agreement.pk})
        assert refused.status_code == 429
        assert 3500 <= int(refused["Retry-After"]) <= 3600
        assert "2 test reminders in the last hour" in refused.json()["error"]
        # Another admin has a limit of their own.
        assert _client(other).post("/api/campaigns/test/",
                                   {"agreement": agreement.pk}).status_code == 200
    assert sink.wait_for(3) and sink.handler.count == 3


def test_a_refused_or_unreachable_mail_server_is_a_502_that_still_counts(sink_factory,
                                                                         smtp_settings):
    owner, agreement, _ = make_audience(1, owner_email=OWNER)
    sink = sink_factory(refuse={OWNER})
    with smtp_settings(sink):
        answer = _client(owner).post("/api/campaigns/test/", {"agreement": agreement.slug})
    assert answer.status_code == 502
    assert "550 5.1.1 No such user here" in answer.json()["error"]
    closed = type(sink)(port=free_port())  # never started: nothing listens there
    with smtp_settings(closed):
        answer = _client(owner).post("/api/campaigns/test/", {"agreement": agreement.slug})
    assert answer.status_code == 502 and "Connection" in answer.json()["error"]
    errors = [sent.error for sent in ReminderTestSend.objects.order_by("pk")]
    assert len(errors) == 2 and errors[0].startswith("550") and "Connection" in errors[1]
    assert sink.handler.count == 0


@pytest.mark.parametrize("body", [{}, {"agreement": None}, {"agreement": ["x"]},
                                  {"agreement": {"id": 1}}, {"agreement": "x" * 100}])
def test_hostile_test_bodies_are_400s_and_send_nothing(body, mailoutbox):
    owner, _agreement, _ = make_audience(1, owner_email=OWNER)
    response = _client(owner).post("/api/campaigns/test/", body,
                                   content_type="application/json")
    assert response.status_code == 400 and "agreement" in response.json()["error"]
    assert not ReminderTestSend.objects.exists() and mailoutbox == []


def test_an_admin_without_an_address_is_told_so():
    agreement = make_agreement()
    owner = make_user(staff=True, email="")
    response = _client(owner).post("/api/campaigns/test/", {"agreement": agreement.slug})
    assert response.status_code == 400 and "no email address" in response.json()["error"]
    assert not ReminderTestSend.objects.exists()


def test_a_test_from_a_token_needs_the_start_scope():
    from tokens.services import token_create

    owner, agreement, _ = make_audience(1, owner_email=OWNER)
    _, read_only = token_create(user=owner, scopes=["read"])
    response = Client().post("/api/campaigns/test/", {"agreement": agreement.slug},
                             content_type="application/json",
                             HTTP_AUTHORIZATION=f"Bearer {read_only}")
    # The owner may send reminders: only the token's scope refused it.
    assert response.status_code == 403 and response.json()["missing_scope"] == "start"
    assert not ReminderTestSend.objects.exists()
