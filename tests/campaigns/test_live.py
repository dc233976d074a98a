"""End to end: a real daphne whose EMAIL_URL is a real SMTP sink, a real WebSocket client."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.campaigns.factories import make_audience
from tests.campaigns.sink import Sink
from tests.factories import PASSWORD
from tests.live import LiveClient, job_finished
from tests.services import Daphne

REFUSED = {"live-00007@example.test", "live-00100@example.test", "live-00222@example.test"}
OWNER = "live-owner@example.test"


@pytest.fixture(scope="module")
def live_sink() -> Iterator[Sink]:
    sink = Sink(refuse=REFUSED, delay=0.02).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def smtp_daphne(django_db_setup, django_db_blocker, media_root, output_dir, tmp_path_factory,
                live_sink) -> Iterator[Daphne]:
    from django.db import connection

    env = {
        "DATABASE_URL": f"sqlite:///{connection.settings_dict['NAME']}",
        "MEDIA_ROOT": str(media_root),
        "DJANGO_VAR_DIR": str(tmp_path_factory.mktemp("var")),
        "EMAIL_URL": live_sink.url + "?timeout=5",
    }
    server = Daphne(env=env, log_dir=output_dir, name="daphne-campaigns").start()
    yield server
    server.stop()


def test_campaign_progress_is_pushed_live_and_ends_with_its_failures(
    transactional_db, smtp_daphne, live_sink,
):
    owner, agreement, _addresses = make_audience(300, owner_email=OWNER, slug="live-terms",
                                                 prefix="live")
    client = LiveClient(smtp_daphne.url).login(owner.username, PASSWORD)
    listed = client.get("/api/campaigns/agreements/").json()["agreements"]
    assert {"slug": "live-terms", "unsigned": 300}.items() <= listed[0].items()
    ws = client.websocket()
    assert ws.recv()["type"] == "jobs.snapshot"

    response = client.post("/api/campaigns/", {"agreement": "live-terms"})
    assert response.status_code == 202, response.text
    job_id = response.json()["job"]["id"]
    again = client.post("/api/campaigns/", {"agreement": agreement.pk})
    assert again.status_code == 409
    assert again.json()["error"] == "Only one running campaign per agreement."

    final = ws.recv_until(job_finished(job_id), timeout=60)["job"]
    running = [job for _t, job in ws.updates_for(job_id)
               if job["status"] == "running" and job["total"]]
    progress = [job["done"] + job["failed"] for job in running]
    assert progress == sorted(progress), progress
    assert len({p for p in progress if 0 < p < 300}) >= 3, progress  # pushed while sending
    assert final["status"] == "succeeded", final
    assert (final["total"], final["done"], final["failed"]) == (300, 297, 3)

    assert live_sink.wait_for(298, timeout=10)
    summary = next(m for m in live_sink.parsed() if m["To"] == OWNER)
    body = summary.get_body(("plain",)).get_content()
    listed_failed = {line.split(":")[0].strip() for line in body.splitlines()
                     if line.startswith("  ") and "@" in line}
    assert listed_failed == REFUSED
    assert not list(summary.iter_attachments())
    ws.close()
    client.close()
