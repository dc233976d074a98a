"""The job list as an admin uses it all day, in Debian's chromium against a real daphne: toasts
that keep clear of the list and stay quiet about old endings, finished jobs as a compact list
with filters and paging, retries linked both ways, file sizes, progress in the tab title."""

from __future__ import annotations

import json
import math
import re
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Job, JobStatus
from tests.browser.conftest import interrupted_export, login, save_screenshot
from tests.browser.test_dashboard import card, open_dashboard
from tests.factories import make_user

pytestmark = pytest.mark.browser

BASE_TITLE = "Dashboard · Claims desk"
LIVE = "window.jobsSocket && window.jobsSocket.state === 'live'"
# Replaces the page's job list (#initial-jobs) with an older one as the parser adds it, before
# the page's module scripts read it: the page as a copy from the browser's cache would be.
STALE_SEED = """
const stale = %s;
new MutationObserver((records, observer) => {
  const el = document.getElementById('initial-jobs');
  if (el && el.textContent) {
    el.textContent = stale;
    window.__staleSeeded = true;
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""

# Every toast's box and every control of the job list that is on screen, in CSS pixels.
BOXES = """() => {
  const box = (el) => { const r = el.getBoundingClientRect();
                        return {left: r.left, top: r.top, right: r.right, bottom: r.bottom,
                                text: (el.innerText || el.value || '').trim()}; };
  const onScreen = (r) => r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
  const controls = [...document.querySelectorAll(
      '#jobs-section a, #jobs-section button, #jobs-section input, #jobs-section select')]
    .filter((el) => el.offsetParent !== null).map(box).filter(onScreen);
  const campaigns = document.querySelector('[aria-labelledby=campaigns-heading]');
  return {toasts: [...document.querySelectorAll('.toast')].map(box), controls,
          campaigns: campaigns ? box(campaigns) : null};
}"""


def overlaps(a, b) -> bool:
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] \
        and b["top"] < a["bottom"]


def shots(page, output_dir, name):
    """Light and dark at the page's current size."""
    save_screenshot(page, output_dir, f"{name}-light.png")
    page.emulate_media(color_scheme="dark")
    save_screenshot(page, output_dir, f"{name}-dark.png")
    page.emulate_media(color_scheme="light")


def finished_jobs(owner, count, *, start=None):
    """`count` finished jobs a minute apart (the newest last): exports with a file, campaigns,
    demo jobs; every seventh failed."""
    start = start or timezone.now() - timedelta(days=2)
    later = timezone.now() + timedelta(hours=20)
    jobs = []
    for n in range(count):
        kind = ("export", "campaign", "demo")[n % 3]
        failed = n % 7 == 3
        fields = {
            "export": dict(title=f"Accident claims export #{n}", total=1200, done=1200,
                           params={"claim_type": "accident"},
                           result_file=f"exports/none/{n}.xlsx", expires_at=later,
                           result={"bytes": 48_300 + n}),
            "campaign": dict(title=f"Reminders: Terms v{n}", total=40, done=37, failed=3),
            "demo": dict(title=f"Demo: {n} steps", total=n + 1, done=n + 1),
        }[kind]
        if failed:
            fields.update(result_file="", expires_at=None, done=5,
                          error="RuntimeError: demo crash")
        job = Job.objects.create(kind=kind, owner=owner, version=5,
                                 status=JobStatus.FAILED if failed else JobStatus.SUCCEEDED,
                                 **fields)
        at = start + timedelta(minutes=n)
        Job.objects.filter(pk=job.pk).update(created_at=at, started_at=at,
                                             finished_at=at + timedelta(seconds=30))
        jobs.append(job)
    return jobs


def fmt_bytes(size: int) -> str:
    """What static/js/job-bits.js fmtBytes shows (en-US): powers of 1000, one decimal
    under 100 of a unit, the trailing .0 dropped."""
    value, units = float(size), ["B", "kB", "MB", "GB"]
    unit = 0
    while value >= 1000 and unit < len(units) - 1:
        value, unit = value / 1000, unit + 1
    if unit == 0 or value >= 100:
        return f"{math.floor(value + 0.5):,} {units[unit]}"
    text = f"{math.floor(value * 10 + 0.5) / 10:.1f}".removesuffix(".0")
    return f"{text} {units[unit]}"


def rows(page):
    return page.locator("#job-history .history-row")


# --- 1. toasts ------------------------------------------------------------------------------

def test_three_jobs_ending_together_make_one_toast_clear_of_the_job_list(new_page, output_dir):
    call_command("load_demo_claims", count=600, types="accident,theft,warranty", verbosity=0)
    admin = make_user(staff=True)
    page = open_dashboard(new_page, admin)
    for key in ("accident", "theft", "warranty"):
        page.locator(f'[data-export="{key}"][data-format="csv"]').click()
    expect(page.locator(".job")).to_have_count(3)
    for n in range(3):
        page.locator(".job").nth(n).locator("[data-action=download]").wait_for()
    toast = page.locator(".toast")
    expect(toast).to_have_count(1)  # one toast for the three endings, not a stack of three
    expect(toast).to_contain_text("3 jobs finished")
    expect(toast).to_contain_text("and 1 more")
    expect(toast.get_by_role("link", name="Show your jobs")).to_have_attribute(
        "href", "#jobs-heading")

    boxes = page.evaluate(BOXES)
    downloads = [c for c in boxes["controls"] if c["text"] == "Download"]
    assert len(downloads) == 3, boxes
    for box in boxes["toasts"]:
        for control in boxes["controls"]:
            assert not overlaps(box, control), (box, control)
    shots(page, output_dir, "toasts-desktop")

    # At phone width the list is below the start cards: the toast goes to the top, off the
    # Reminder campaigns card and off the job list's controls.
    page.set_viewport_size({"width": 390, "height": 844})
    boxes = page.evaluate(BOXES)
    assert boxes["campaigns"] is not None
    for box in boxes["toasts"]:
        assert not overlaps(box, boxes["campaigns"]), (box, boxes["campaigns"])
        for control in boxes["controls"]:
            assert not overlaps(box, control), (box, control)
    shots(page, output_dir, "toasts-phone")
    assert page.errors == []


def test_a_page_opened_after_a_job_ended_shows_no_toast(new_page, base_url):
    admin = make_user(staff=True)
    now = timezone.now()
    ended = Job.objects.create(kind="demo", title="Ended a while ago", owner=admin, total=5,
                               done=5, version=4, status=JobStatus.SUCCEEDED)
    Job.objects.filter(pk=ended.pk).update(created_at=now - timedelta(seconds=100),
                                           finished_at=now - timedelta(seconds=90))
    page = new_page()
    login(page, admin.username)
    page.wait_for_function(LIVE)
    card(page, str(ended.pk)).wait_for()
    page.goto("/admin/")  # an admin page, 90 s after the ending: no toast there either
    page.wait_for_function(LIVE)  # its snapshot is applied, and toasts come from it at once
    assert page.locator(".toast").count() == 0

    # A copy of the dashboard from the browser's cache (back button, restored tab) still says
    # "running" for a job that ended five minutes ago: the socket's snapshot corrects the
    # card, without announcing an ending that old. The copy's job list is put in the page as
    # the parser adds it (serving the whole copy with page.route trips chromium's local
    # network access checks for the socket).
    running = Job.objects.create(kind="demo", title="Running in the old copy", owner=admin,
                                 total=10, done=3, version=3, status=JobStatus.RUNNING,
                                 started_at=now - timedelta(minutes=6))
    old_copy = page.request.get(f"{base_url}/").text()
    seed = re.search(r'<script id="initial-jobs" type="application/json">(.*?)</script>',
                     old_copy, re.S).group(1)
    assert "Running in the old copy" in seed
    Job.objects.filter(pk=running.pk).update(status=JobStatus.SUCCEEDED, done=10, version=9,
                                             finished_at=now - timedelta(minutes=5))
    later = page.context.new_page()
    later.add_init_script(STALE_SEED % json.dumps(seed))
    later.goto("/")
    later.wait_for_function(LIVE)
    assert later.evaluate("window.__staleSeeded") is True
    card(later, str(running.pk)).locator('[data-role=status]:text-is("Done")').wait_for()
    assert later.locator(".toast").count() == 0


def test_a_job_that_ended_moments_ago_and_was_never_announced_still_gets_its_toast(new_page):
    admin = make_user(staff=True)
    page = new_page()
    login(page, admin.username)
    page.wait_for_function(LIVE)
    page.goto("/admin/")
    page.wait_for_function(LIVE)
    # Ended during the navigation (an admin action's form post): announced by the next page.
    job = Job.objects.create(kind="demo", title="Ended during the navigation", owner=admin,
                             total=5, done=5, version=4, status=JobStatus.SUCCEEDED)
    Job.objects.filter(pk=job.pk).update(finished_at=timezone.now())
    page.goto("/admin/")
    page.locator(".toast").filter(has_text="Ended during the navigation finished").wait_for()
    page.goto("/admin/")  # once only
    page.wait_for_function(LIVE)
    assert page.locator(".toast").count() == 0


# --- 2. history -----------------------------------------------------------------------------

def test_finished_jobs_beyond_the_cards_are_a_compact_list_with_filters_and_paging(
        new_page, output_dir):
    admin = make_user(staff=True)
    finished_jobs(admin, 60)
    page = open_dashboard(new_page, admin)
    expect(page.locator(".job")).to_have_count(3)  # the three newest finished jobs
    expect(rows(page)).to_have_count(17)  # the API's first page (20) less the three cards
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height < 2200, f"{height}px tall with 60 jobs"
    first = rows(page).first
    assert first.locator("[data-role=title]").inner_text() == "Demo: 56 steps"
    assert first.locator("[data-role=counts]").inner_text() == "57 items"
    export_row = rows(page).filter(has_text="Accident claims export #54")
    download = export_row.get_by_role("link", name="Download Accident claims export #54")
    expect(download).to_be_visible()
    assert export_row.locator("[data-role=file-size]").inner_text() == "48.4 kB"
    failed_row = rows(page).filter(has_text="Reminders: Terms v52")
    assert failed_row.locator("[data-role=status]").inner_text() == "Failed"
    assert failed_row.locator("[data-role=counts]").inner_text() == "5 of 40 emails, 3 failed"
    shots(page, output_dir, "history-desktop")
    rows(page).nth(8).scroll_into_view_if_needed()
    shots(page, output_dir, "history-desktop-rows")

    more = page.get_by_role("button", name="Show more")
    more.click()
    expect(rows(page)).to_have_count(37)
    more.click()
    expect(rows(page)).to_have_count(57)  # all 60 less the cards
    expect(more).to_be_hidden()
    titles = rows(page).locator("[data-role=title]").all_inner_texts()
    assert len(set(titles)) == 57 and titles[-1] == "Accident claims export #0"

    page.locator("#jobs-section").get_by_label("Kind").select_option("export")
    expect(rows(page)).to_have_count(17)  # 20 exports, the three newest as cards
    assert set(rows(page).locator(".history-kind").all_inner_texts()) == {"Export"}
    assert all("export" in t for t in page.locator(".job:visible .job-title").all_inner_texts())
    page.locator("#jobs-section").get_by_label("Search titles").fill("terms v5")
    expect(page.locator("#jobs-nomatch")).to_have_text("No jobs match these filters.")
    expect(page.locator("#jobs-empty")).to_be_hidden()  # "No jobs yet" is for no job at all
    page.locator("#jobs-section").get_by_label("Search titles").fill("terms v4")
    expect(page.locator("#jobs-nomatch")).to_have_text("No jobs match these filters.")
    page.locator("#jobs-section").get_by_label("Kind").select_option("")
    # v4, v40, v43, v46, v49: the newest three as cards, then two rows
    expect(page.locator(".job:visible")).to_have_count(3)
    expect(rows(page)).to_have_count(2)
    expect(rows(page).first).to_contain_text("Reminders: Terms v40")
    expect(page.locator("#jobs-nomatch")).to_be_hidden()
    page.locator("#jobs-section").get_by_label("Search titles").fill("")
    page.locator("#jobs-section").get_by_label("Status").select_option("failed")
    expect(rows(page)).to_have_count(6)  # nine failed jobs, three of them cards
    assert set(rows(page).locator("[data-role=status]").all_inner_texts()) == {"Failed"}
    page.locator("#jobs-section").get_by_label("Status").select_option("")

    page.locator("#jobs-section").get_by_label("Hide finished").check()
    expect(rows(page)).to_have_count(0)
    expect(page.locator(".job:visible")).to_have_count(0)
    expect(page.locator("#jobs-nomatch")).to_have_text(
        "Nothing is running or queued. Finished jobs are hidden.")
    page.reload()
    page.wait_for_function(LIVE)
    hide = page.locator("#jobs-section").get_by_label("Hide finished")
    expect(hide).to_be_checked()  # remembered
    expect(page.locator(".job:visible")).to_have_count(0)
    page.locator("#jobs-section").get_by_label("Hide finished").uncheck()
    expect(rows(page)).to_have_count(17)

    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#history").scroll_into_view_if_needed()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scroll at phone width"
    shots(page, output_dir, "history-phone")
    assert page.errors == []


def test_a_job_that_ends_moves_the_oldest_finished_card_to_the_list_live(new_page, output_dir):
    admin = make_user(staff=True)
    older = finished_jobs(admin, 3, start=timezone.now() - timedelta(hours=1))
    page = open_dashboard(new_page, admin)
    page.evaluate("window.__sameDocument = 'yes'")
    expect(page.locator(".job")).to_have_count(3)
    expect(rows(page)).to_have_count(0)
    assert page.title() == BASE_TITLE

    page.get_by_role("button", name="Run a demo job").click()
    page.wait_for_function(
        "() => /^\\((\\d|[1-9]\\d)%\\) Dashboard · Claims desk$/.test(document.title)")
    shot_title = page.title()
    page.locator(".job").first.locator('[data-role=status]:text-is("Done")').wait_for(
        timeout=30_000)
    page.wait_for_function(f"() => document.title === {BASE_TITLE!r}")
    # The oldest finished card went down to the list, without a reload.
    oldest = str(older[0].pk)
    expect(card(page, oldest)).to_have_count(0)
    expect(page.locator(f'#job-history [data-job-id="{oldest}"]')).to_be_visible()
    expect(page.locator(".job")).to_have_count(3)
    assert page.evaluate("window.__sameDocument") == "yes"
    assert re.match(r"^\(\d{1,2}%\) ", shot_title), shot_title
    assert page.errors == []


# --- 3. little things and retries -----------------------------------------------------------

def test_download_shows_the_file_size(new_page, output_dir):
    call_command("load_demo_claims", count=700, types="theft", verbosity=0)
    admin = make_user(staff=True)
    page = open_dashboard(new_page, admin)
    page.get_by_role("button", name="Export Theft claims as CSV").click()
    job_card = page.locator(".job").first
    job_card.locator("[data-action=download]").wait_for()
    job = Job.objects.get(owner=admin, kind="export")
    size = job.result["bytes"]
    assert page.request.head(job_card.locator("[data-action=download]").get_attribute(
        "href")).headers["content-length"] == str(size)
    assert job_card.locator("[data-role=file-size]").inner_text() == fmt_bytes(size)
    save_screenshot(page, output_dir, "file-size.png")
    assert page.errors == []


def test_a_retry_links_to_its_original_and_back(new_page, output_dir):
    call_command("load_demo_claims", count=300, types="warranty", verbosity=0)
    admin = make_user(staff=True)
    old = interrupted_export(admin, rows=300, fmt="csv")
    page = open_dashboard(new_page, admin)
    card(page, str(old.pk)).get_by_role("button", name="Retry Warranty claims export").click()
    new_card = page.locator(f'.job:not([data-job-id="{old.pk}"])')
    new_card.locator("[data-action=download]").wait_for()
    new_id = new_card.get_attribute("data-job-id")

    back = card(page, str(old.pk)).get_by_role("link", name="↓ Retried as a newer job")
    back.wait_for()
    new_card.get_by_role("link", name="↑ Retry of an earlier job").click()
    page.wait_for_function(f"() => document.activeElement.id === 'job-{old.pk}'")
    back.click()
    page.wait_for_function(f"() => document.activeElement.id === 'job-{new_id}'")
    shots(page, output_dir, "retry-links")
    assert page.errors == []


def test_a_link_to_a_job_beyond_the_loaded_pages_fetches_it(new_page):
    admin = make_user(staff=True)
    now = timezone.now()
    original = Job.objects.create(kind="demo", title="The original, long ago", owner=admin,
                                  status=JobStatus.FAILED, total=9, done=2, version=3)
    Job.objects.filter(pk=original.pk).update(created_at=now - timedelta(days=5),
                                              finished_at=now - timedelta(days=5))
    finished_jobs(admin, 25, start=now - timedelta(days=1))
    retry = Job.objects.create(kind="demo", title="The retry", owner=admin, total=9, done=9,
                               status=JobStatus.SUCCEEDED, version=4, resumed_from=original)
    Job.objects.filter(pk=retry.pk).update(finished_at=now)
    page = open_dashboard(new_page, admin)
    expect(page.locator(f'[data-job-id="{original.pk}"]')).to_have_count(0)  # not loaded
    card(page, str(retry.pk)).get_by_role("link", name="↑ Retry of an earlier job").click()
    row = page.locator(f'#job-history [data-job-id="{original.pk}"]')
    expect(row).to_be_visible()
    page.wait_for_function(f"() => document.activeElement.id === 'job-{original.pk}'")
    expect(row.get_by_role("link", name="↓ Retried as a newer job")).to_be_visible()
    assert page.errors == []
