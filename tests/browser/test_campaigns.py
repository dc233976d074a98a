"""Reminder campaigns as the admin uses them, in Debian's chromium against a real daphne and a
real SMTP sink: confirm (who, the last campaign, a preview, a test to oneself), send, read
who failed and why (paged, CSV); a second campaign asks before mailing the same people; the
unsigned count drops live when someone accepts through their link."""

from __future__ import annotations

import csv
import re
import uuid

import pytest
from playwright.sync_api import expect

from campaigns.models import Acceptance, Agreement, Recipient, ReminderTestSend
from jobs.models import Job
from tests.browser.conftest import REFUSED, save_screenshot
from tests.browser.test_dashboard import card, newest_job_id, open_dashboard
from tests.campaigns.links import accept_over_http
from tests.factories import make_user

pytestmark = pytest.mark.browser

SIZES = {"desktop": 1280, "phone": 390}


def _agreement(title: str, *, version: int = 1) -> Agreement:
    """An agreement every existing user (the admins) has accepted: only those made after it
    are unsigned."""
    from django.contrib.auth import get_user_model

    agreement = Agreement.objects.create(title=title, slug=f"b-{uuid.uuid4().hex[:8]}",
                                         version=version, body="Be nice.")
    Acceptance.objects.bulk_create([Acceptance(user=user, agreement=agreement)
                                    for user in get_user_model().objects.all()])
    return agreement


def _shots(page, output_dir, name: str, *, ready) -> None:
    """The same state at desktop and phone width, light and dark; nothing wider than the
    screen. `ready` waits for the state to be drawn again after a resize."""
    for size, width in SIZES.items():
        page.set_viewport_size({"width": width, "height": 900 if size == "desktop" else 844})
        for scheme in ("light", "dark"):
            page.emulate_media(color_scheme=scheme)
            ready()
            overflow = page.evaluate("document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{name}: {overflow}px of horizontal scroll at {width}px"
            save_screenshot(page, output_dir, f"{name}-{size}-{scheme}.png")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.emulate_media(color_scheme="light")


def test_confirm_preview_test_send_then_read_who_failed(new_page, smtp_sink, output_dir,
                                                         tmp_path):
    admin = make_user(staff=True, email=f"admin-{uuid.uuid4().hex[:6]}@example.com")
    agreement = _agreement("Terms of service", version=2)
    tag = uuid.uuid4().hex[:6]
    more_refused = {f"refuse-{n:02d}-{tag}@example.com" for n in range(22)}
    refused = set(REFUSED) | more_refused
    for n in range(6):
        make_user(staff=False, email=f"ok-{n}-{tag}@example.com")
    for email in sorted(refused):
        make_user(staff=False, email=email)
    smtp_sink.handler.refuse |= more_refused
    try:
        page = open_dashboard(new_page, admin)
        row = page.locator(f'[data-agreement="{agreement.slug}"]')
        row.get_by_text("31 unsigned").wait_for()
        row.get_by_role("button", name="Send reminders for Terms of service").click()

        # Before sending: who, the last campaign (none), one recipient's reminder.
        dialog = page.get_by_role("dialog", name="Send reminders: Terms of service")
        dialog.get_by_text("31 users will receive the reminder.").wait_for()
        assert "No campaign has run for version 2 yet." in dialog.inner_text()
        # Nobody was reminded recently: no box offering to include them.
        assert dialog.locator(".confirm-include").is_hidden()
        assert dialog.locator("[data-role=subject]").inner_text() == (
            "Please accept our Terms of service (version 2)")
        assert re.fullmatch(r"As \S+ \(ok-0-\w+@example\.com\) would receive it\..*",
                            dialog.locator("[data-role=preview-for]").inner_text())
        mail = page.frame_locator(".preview-html")
        mail.get_by_text("You have not yet accepted our").wait_for()
        assert mail.get_by_role("link", name="Read and accept").count() == 1
        assert not Job.objects.exists()  # nothing started by opening it
        _shots(page, output_dir, "campaign-confirm",
               ready=lambda: dialog.get_by_text("31 users will receive").wait_for())

        # A test to me: through the sink, not a recipient.
        before = smtp_sink.handler.count
        dialog.get_by_role("button", name="Send a test to me").click()
        dialog.get_by_text(f"Sent to {admin.email}").wait_for()
        assert smtp_sink.wait_for(before + 1)
        assert ReminderTestSend.objects.filter(user=admin).count() == 1
        assert not Recipient.objects.exists()

        dialog.get_by_role("button", name="Send 31 reminders").click()
        dialog.wait_for(state="hidden")
        job_id = newest_job_id(page)
        job_card = card(page, job_id)
        job_card.locator('[data-role=status]:text-is("Done"), '
                         '[data-role=status]:text-is("Failed")').wait_for(timeout=30_000)
        assert job_card.locator("[data-role=failed]").inner_text() == "25"
        assert job_card.locator("[data-role=done]").inner_text() == "6"
        assert refused <= set(smtp_sink.handler.refused)

        # After: who failed and why, page by page.
        failed = job_card.get_by_role("button", name="Failed recipients of Reminders: "
                                                      "Terms of service v2: 25")
        assert failed.inner_text() == "Failed: 25"
        failed.click()
        panel = page.get_by_role("dialog", name="Failed recipients")
        panel.get_by_text("Page 1 of 2").wait_for()
        assert panel.locator("tbody tr").count() == 20
        # The list scrolls; the pager and the download stay in view.
        expect(panel.get_by_role("button", name="Next")).to_be_in_viewport()
        expect(panel.get_by_role("link", name="Download CSV")).to_be_in_viewport()
        assert panel.locator("tbody tr").first.locator(".failed-reason").inner_text() == (
            "550 5.1.1 No such user here")
        assert "skipped (permanent)" in panel.locator("tbody tr").first.inner_text()
        _shots(page, output_dir, "campaign-failed",
               ready=lambda: panel.get_by_text("Page 1 of 2").wait_for())
        # On a phone each recipient is a block as wide as the list (it once took 44 % of it).
        page.set_viewport_size({"width": 390, "height": 844})
        cell = panel.locator("tbody tr").first.locator(".failed-email").bounding_box()
        listed = panel.locator(".failed-scroll").bounding_box()
        assert cell["width"] >= 0.85 * listed["width"], (cell, listed)
        page.set_viewport_size({"width": 1280, "height": 900})
        panel.get_by_role("button", name="Next").click()
        panel.get_by_text("Page 2 of 2").wait_for()
        assert panel.locator("tbody tr").count() == 5
        shown = set(panel.locator(".failed-email").all_inner_texts())

        with page.expect_download() as info:
            panel.get_by_role("link", name="Download CSV").click()
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        assert path.name == f"failed-{job_id}.csv"
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert {r["email"] for r in rows} == refused and shown < refused
        assert {r["reason"] for r in rows} == {"550 5.1.1 No such user here"}
        panel.locator(".dialog-actions").get_by_role("button", name="Close").click()
        panel.wait_for(state="hidden")
        # At phone width the end-of-job toast covers the end of the page (toasts.js, not
        # this card's): dismissed, so the shot shows the card.
        for close in page.locator(".toast-close").all():
            close.click()
        _shots(page, output_dir, "campaign-card-failed",
               ready=lambda: failed.evaluate("el => el.scrollIntoView({block: 'center'})"))
        assert page.errors == []
    finally:
        smtp_sink.handler.refuse -= more_refused


def test_a_second_campaign_asks_before_mailing_the_same_users_again(new_page, output_dir):
    admin = make_user(staff=True)
    agreement = _agreement("Privacy notice")
    for n in range(5):
        make_user(staff=False, email=f"again-{n}-{uuid.uuid4().hex[:4]}@example.com")
    page = open_dashboard(new_page, admin)
    assert page.locator("#jobs-empty").is_visible()  # no job yet: the empty state says so
    row = page.locator(f'[data-agreement="{agreement.slug}"]')
    row.get_by_text("5 unsigned").wait_for()
    send = row.get_by_role("button", name="Send reminders for Privacy notice")
    dialog = page.get_by_role("dialog", name="Send reminders: Privacy notice")

    # The admin opens the dialog here while another tab of theirs sends the campaign.
    send.click()
    dialog.get_by_text("5 users will receive the reminder.").wait_for()
    other = open_dashboard(new_page, admin)
    other.get_by_role("button", name="Send reminders for Privacy notice").click()
    other.get_by_role("button", name="Send 5 reminders").click()
    first = newest_job_id(other)
    card(other, first).locator('[data-role=status]:text-is("Done")').wait_for()
    card(page, first).locator('[data-role=status]:text-is("Done")').wait_for()
    assert page.locator("#jobs-empty").is_hidden()  # not next to a real job

    # Sending from the stale dialog: refused in the dialog, the figures read again.
    dialog.get_by_role("button", name="Send 5 reminders").click()
    alert = dialog.get_by_role("alert")
    alert.get_by_text("were reminded in the last 24 hours").wait_for()
    assert "Also remind" in alert.inner_text() and "start again" not in alert.inner_text()
    dialog.get_by_text("Nobody new to remind: all 5 users who have not accepted were "
                       "reminded in the last 24 hours.").wait_for()
    assert re.search(r"Last campaign for version 1: started (just now|\d+ seconds? ago) .*, "
                     r"to 5: 5 sent, 0 failed\.", dialog.locator("[data-role=last]").inner_text())
    assert dialog.get_by_role("button", name="Send reminders").is_disabled()
    assert page.locator(".job").count() == 1 and page.locator(".toast-error").count() == 0
    dialog.get_by_role("button", name="Cancel").click()
    dialog.wait_for(state="hidden")
    # The list says who was just reminded.
    row.get_by_text("5 reminded").wait_for()
    assert "5 unsigned · 5 reminded" in row.locator("[data-role=audience]").inner_text()

    send.click()
    dialog.get_by_text("Nobody new to remind").wait_for()
    dialog.get_by_label("Also remind the 5 reminded in the last 24 hours").check()
    dialog.get_by_text("5 users will receive the reminder.").wait_for()
    # The preview drawn again shows the mail (a srcdoc set a second time drew a blank frame).
    page.frame_locator(".preview-html").get_by_text("You have not yet accepted").wait_for()
    save_screenshot(page, output_dir, "campaign-confirm-again.png")
    dialog.get_by_role("button", name="Send 5 reminders").click()
    dialog.wait_for(state="hidden")
    page.locator(".job").nth(1).wait_for()
    second = newest_job_id(page)
    assert second != first
    card(page, second).locator('[data-role=status]:text-is("Done")').wait_for()
    assert card(page, second).locator("[data-role=done]").inner_text() == "5"
    assert Job.objects.get(pk=second).params["include_recent"] is True
    assert page.errors == [] and other.errors == []


def test_the_unsigned_count_drops_live_when_someone_accepts(new_page, base_url, output_dir):
    admin = make_user(staff=True)
    clerk_user = make_user(staff=True, roles=("exporter",))
    agreement = _agreement("House rules")
    people = [make_user(staff=False) for _ in range(3)]
    page = open_dashboard(new_page, admin)
    phone = open_dashboard(new_page, admin, width=390, height=844)
    clerk = open_dashboard(new_page, clerk_user)
    page.evaluate("window.__sameDocument = 'yes'")
    row = page.locator(f'[data-agreement="{agreement.slug}"]')
    row.get_by_text("3 unsigned").wait_for()
    phone.locator(f'[data-agreement="{agreement.slug}"]').get_by_text("3 unsigned").wait_for()

    answer = accept_over_http(base_url, user_id=people[0].pk, agreement=agreement)
    assert answer.status_code == 200 and "Thank you" in answer.text
    row.get_by_text("2 unsigned").wait_for()
    phone.locator(f'[data-agreement="{agreement.slug}"]').get_by_text("2 unsigned").wait_for()
    accept_over_http(base_url, user_id=people[1].pk, agreement=agreement)
    row.get_by_text("1 unsigned").wait_for()
    assert page.evaluate("window.__sameDocument") == "yes", "the page was reloaded"
    assert row.get_by_role("button", name="Send reminders for House rules").is_enabled()

    accept_over_http(base_url, user_id=people[2].pk, agreement=agreement)
    row.get_by_text("0 unsigned").wait_for()
    assert row.get_by_role("button", name="Send reminders for House rules").is_disabled()
    save_screenshot(page, output_dir, "campaign-counts-live.png")
    assert clerk.locator("#agreements").count() == 0  # no right: no card, no counts
    assert page.errors == [] and phone.errors == [] and clerk.errors == []
