"""What the admin sees, in Debian's chromium against a real daphne: click, watch it move, get
the file; reconnect after a restart; nobody else's jobs. Campaigns: test_campaigns.py."""

from __future__ import annotations

import openpyxl
import pytest
from django.core.management import call_command

from jobs.models import Job, JobStatus
from tests.browser.conftest import (
    copy_to_docs,
    interrupted_export,
    login,
    save_screenshot,
    unique,
)
from tests.campaigns.factories import make_agreement, make_users
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser

# Recorded from the page itself: every aria-valuenow each job's bar takes, and every job card
# that ever appears (installed before the page's own scripts run).
RECORDER = """
window.__bar = {};
window.__seen = [];
const note = (bar) => {
  const card = bar.closest('[data-job-id]');
  if (!card) return;
  const id = card.dataset.jobId, value = bar.getAttribute('aria-valuenow');
  const list = (window.__bar[id] = window.__bar[id] || []);
  if (value !== null && list[list.length - 1] !== value) list.push(value);
};
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === 'attributes') note(r.target);
    for (const node of r.addedNodes || []) {
      if (node.nodeType !== 1) continue;
      if (node.matches('[data-job-id]')) window.__seen.push(node.dataset.jobId);
      node.querySelectorAll('[role=progressbar]').forEach(note);
    }
  }
}).observe(document, {subtree: true, childList: true, attributes: true,
                      attributeFilter: ['aria-valuenow']});
"""


def open_dashboard(new_page, user, **size):
    page = new_page(**size)
    page.add_init_script(RECORDER)
    login(page, user.username)
    page.locator("#connection[data-state=live]").wait_for()
    return page


def card(page, job_id):
    return page.locator(f'.job[data-job-id="{job_id}"]')


def newest_job_id(page) -> str:
    page.locator(".job").first.wait_for()
    return page.locator(".job").first.get_attribute("data-job-id")


def test_export_moves_and_downloads(new_page, output_dir, tmp_path):
    call_command("load_demo_claims", count=8000, types="accident", verbosity=0)
    from exports.models import AccidentClaim

    rows = AccidentClaim.objects.count()
    assert rows >= 8000
    admin = make_user(staff=True)
    # What an admin's screen holds on a working day (and docs/dashboard.png shows): an
    # agreement with users to remind and an earlier export that stopped.
    make_agreement(slug=unique("terms"))
    make_users(1601, prefix=unique("u"))
    stopped = interrupted_export(admin, rows=500)
    page = open_dashboard(new_page, admin)
    row = page.locator('[data-claim-type="accident"]')
    row.get_by_text(f"{rows:,} rows").wait_for()
    page.get_by_text("1,602 unsigned").wait_for()  # and the admin

    # Keyboard only: focus the button and press Enter.
    button = page.get_by_role("button", name="Export Accident claims as Excel")
    button.focus()
    page.keyboard.press("Enter")
    new_card = page.locator(f'.job:not([data-job-id="{stopped.pk}"])')  # not the stopped one
    new_card.wait_for()
    job_id = new_card.get_attribute("data-job-id")
    job_card = card(page, job_id)
    bar = job_card.get_by_role("progressbar")
    page.wait_for_function(
        "id => (window.__bar[id] || []).some(v => Number(v) > 0)", arg=job_id)
    shot = save_screenshot(page, output_dir, "dashboard-mid-export.png")

    download_link = job_card.get_by_role("link", name="Download Accident claims export")
    download_link.wait_for()
    assert job_card.locator("[data-role=status]").inner_text() == "Done"
    assert "Expires in" in job_card.locator("[data-role=expiry]").inner_text()
    assert bar.get_attribute("aria-valuemin") == "0"
    assert bar.get_attribute("aria-valuemax") == str(rows)
    assert bar.get_attribute("aria-valuenow") == str(rows)

    values = [int(v) for v in page.evaluate("id => window.__bar[id]", job_id)]
    assert len(set(values)) >= 3, values
    assert values == sorted(values) and values[-1] == rows, values
    assert any(0 < v < rows for v in values), values

    page.locator(".toast").filter(has_text="Accident claims export finished").wait_for()
    with page.expect_download() as info:
        download_link.click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    assert path.suffix == ".xlsx"
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == rows + 1  # header + every claim
    assert page.errors == []
    copy_to_docs(shot)

    # The same page at phone width: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 812})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scroll at phone width"
    save_screenshot(page, output_dir, "dashboard-phone.png")


def test_page_reconnects_after_a_server_restart(new_page, browser_server):
    admin = make_user(staff=True)
    page = open_dashboard(new_page, admin)
    page.evaluate("window.__sameDocument = 'yes'")
    page.get_by_role("button", name="Run a demo job").click()
    job_id = newest_job_id(page)
    page.wait_for_function("id => (window.__bar[id] || []).some(v => Number(v) >= 3)",
                           arg=job_id)

    browser_server.stop()  # SIGTERM: the server marks its running job interrupted
    page.locator("#connection[data-state=reconnecting]").wait_for()
    assert page.locator("#connection").inner_text() == "Reconnecting…"
    # While the page is cut off, a job ends that it has never heard of: only the snapshot
    # after the reconnect can tell it.
    unseen = Job.objects.create(kind="demo", title="Finished while you were away", owner=admin,
                                status=JobStatus.SUCCEEDED, total=5, done=5, version=4)
    browser_server.start()  # same port

    page.locator("#connection[data-state=live]").wait_for(timeout=30_000)
    card(page, str(unseen.pk)).locator('[data-role=status]:text-is("Done")').wait_for()
    interrupted = card(page, job_id)
    interrupted.locator('[data-role=status]:text-is("Interrupted")').wait_for()
    assert "server was stopped" in interrupted.locator("[data-role=line]").inner_text()
    assert interrupted.get_by_role("button", name="Cancel demo").count() == 0
    assert page.evaluate("window.__sameDocument") == "yes", "the page was reloaded"
    assert Job.objects.get(pk=job_id).status == JobStatus.INTERRUPTED
    assert page.errors == []


def test_each_admin_sees_only_their_own_jobs(new_page):
    alice, bob = make_user(staff=True), make_user(staff=True)
    page_a = open_dashboard(new_page, alice)
    page_b = open_dashboard(new_page, bob)

    page_a.get_by_role("button", name="Run a demo job").click()
    job_a = newest_job_id(page_a)
    card(page_a, job_a).locator('[data-role=status]:text-is("Done")').wait_for(timeout=30_000)
    # Bob's own job afterwards: once it is done on his page, anything of Alice's that leaked
    # would have arrived before it on the same socket.
    page_b.get_by_role("button", name="Run a demo job").click()
    job_b = newest_job_id(page_b)
    card(page_b, job_b).locator('[data-role=status]:text-is("Done")').wait_for(timeout=30_000)

    assert page_b.evaluate("window.__seen") == [job_b]
    assert job_b not in page_a.evaluate("window.__seen")
    assert page_b.locator(".job").count() == 1
    assert card(page_b, job_a).count() == 0


def test_login_required_staff_only_and_logout_elsewhere(new_page, base_url):
    anonymous = new_page()
    anonymous.goto("/")
    assert anonymous.url.endswith("/accounts/login/?next=/")

    clerk = make_user(staff=False)
    page = new_page()
    page.goto("/accounts/login/?next=/")
    page.get_by_label("Username").fill(clerk.username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_response(lambda r: r.url == f"{base_url}/") as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 403
    page.get_by_role("heading", name="Not allowed").wait_for()

    # Staff rights taken away while the page is open: the next connection is refused with
    # 4403 and the page says so instead of retrying forever.
    lost = make_user(staff=True)
    was_staff = open_dashboard(new_page, lost)
    type(lost).objects.filter(pk=lost.pk).update(is_staff=False)
    was_staff.evaluate("window.jobsSocket.ws.close()")  # as if the network dropped
    was_staff.locator("#connection[data-state=forbidden]").wait_for()
    assert "Not allowed" in was_staff.locator("#connection").inner_text()

    # Logging out in another tab closes this tab's socket with 4401: it goes to the login page.
    admin = make_user(staff=True)
    dashboard = open_dashboard(new_page, admin)
    other_tab = dashboard.context.new_page()
    other_tab.goto("/")
    other_tab.get_by_role("button", name="Log out").click()
    dashboard.wait_for_url("**/accounts/login/?next=%2F")


def test_admin_action_exports_the_filtered_list_and_the_widget_says_so(new_page, tmp_path):
    from exports.models import AccidentClaim

    call_command("load_demo_claims", count=3000, types="accident", verbosity=0)
    wanted = AccidentClaim.objects.filter(status="open").count()
    assert 0 < wanted < AccidentClaim.objects.count()
    admin = make_user(staff=True, superuser=True)
    page = new_page()
    login(page, admin.username)
    page.goto("/admin/exports/accidentclaim/?status__exact=open")

    # No rows ticked: the action takes the changelist's filters.
    page.locator("select[name=action]").select_option(label="Export to Excel in the background")
    page.get_by_role("button", name="Go", exact=True).click()
    page.locator(".messagelist").get_by_text("started").wait_for()
    job = Job.objects.get(owner=admin, kind="export")
    assert job.params["filters"] == {"status__exact": "open"}

    toast = page.locator(".toast").filter(has_text="Accident claims export, filtered finished")
    # The job may end while the form post is still in flight: the next page announces it.
    toast.wait_for()
    with page.expect_download() as info:
        toast.get_by_role("link", name="Download").click()
    path = tmp_path / info.value.suggested_filename
    info.value.save_as(path)
    sheet = openpyxl.load_workbook(path, read_only=True).active
    assert sum(1 for _ in sheet.iter_rows()) == wanted + 1

    # The job admin lists it, filtered by kind and status, with a read-only detail.
    page.goto("/admin/jobs/job/?kind=export&status__exact=succeeded")
    page.get_by_role("cell", name=f"{wanted:,} / {wanted:,}").wait_for()
    page.get_by_role("link", name="Accident claims export, filtered").click()
    assert page.locator(".field-status .readonly").inner_text() == "Succeeded"
    assert page.locator(".field-progress .readonly").inner_text() == f"{wanted:,} / {wanted:,}"
    assert page.locator("input[name=title]").count() == 0  # read-only
    assert page.errors == []


def test_retry_an_interrupted_export_from_the_dashboard(new_page):
    call_command("load_demo_claims", count=500, types="warranty", verbosity=0)
    admin = make_user(staff=True)
    old = interrupted_export(admin, rows=500)
    page = open_dashboard(new_page, admin)
    old_card = card(page, str(old.pk))
    assert old_card.get_by_role("progressbar").get_attribute("aria-valuenow") == "120"
    old_card.get_by_role("button", name="Retry Warranty claims export").click()

    new_card = page.locator(f'.job:not([data-job-id="{old.pk}"])')
    new_card.wait_for()
    new_id = new_card.get_attribute("data-job-id")
    card(page, new_id).get_by_role("link", name="Download Warranty claims export").wait_for()
    # The old job stays interrupted (terminal is final) and can no longer be retried.
    old_card.get_by_role("button", name="Retry Warranty claims export").wait_for(state="detached")
    assert old_card.locator("[data-role=status]").inner_text() == "Interrupted"
    assert Job.objects.get(pk=new_id).resumed_from_id == old.pk
