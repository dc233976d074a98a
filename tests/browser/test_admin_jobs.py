"""The Django admin's job list at 1280 px: nothing cut off on the right, filters readable."""

from __future__ import annotations

import pytest
from django.utils import timezone

from jobs.models import Job
from tests.browser.conftest import login, save_screenshot
from tests.factories import make_user

pytestmark = pytest.mark.browser

FILTERS = {"status": "open", "created_at__gte": "2024-01-01", "car__make__in": "Audi,BMW"}
READABLE = "Status: Open · Created at: from 2024-01-01 · Make: one of Audi, BMW"  # as on the card


def _jobs(owner) -> list[Job]:
    """A few jobs with the long titles an admin's day produces, an export with filters."""
    now = timezone.now()
    long = ("Accident claims export (CSV), filtered for the quarterly report of the regional "
            "office, all brokers, with every attachment listed")
    made = [
        Job.objects.create(kind="export", owner=owner, title=long, status="succeeded",
                           params={"claim_type": "accident", "format": "csv",
                                   "filters": FILTERS},
                           total=1601, done=1601, started_at=now, finished_at=now),
        Job.objects.create(kind="campaign", owner=owner, status="interrupted",
                           title="Reminders: General Terms and Conditions of the Claims Desk "
                                 "Platform for Partners and Subcontractors v12",
                           total=12000, done=8113, failed=37, started_at=now, finished_at=now),
        Job.objects.create(kind="export", owner=owner, status="running",
                           title="Warranty claims export, filtered",
                           params={"claim_type": "warranty", "format": "xlsx",
                                   "filters": {"part": "gearbox", "mileage_km__lt": 120000}},
                           total=250000, done=74000, started_at=now, heartbeat_at=now,
                           worker_id="elsewhere"),  # beating: the server's sweep leaves it
        Job.objects.create(kind="demo", owner=owner, status="failed",
                           title="Demo: " + "x" * 150, total=20, done=3, failed=1,
                           error="RuntimeError: demo crash at step 4", started_at=now,
                           finished_at=now),
    ]
    return made


def _overflow(page) -> dict:
    """Widths that would hide something on the right: the document, and the results box
    (the admin lets that one scroll sideways, which hides columns just the same)."""
    return page.evaluate("""() => {
        const doc = document.documentElement, results = document.querySelector('.results');
        return {doc: [doc.scrollWidth, doc.clientWidth],
                results: results ? [results.scrollWidth, results.clientWidth] : null};
    }""")


def test_the_job_list_fits_1280_px_and_shows_an_exports_filters(new_page, output_dir):
    admin = make_user(staff=True, superuser=True, username="admin-with-a-long-name")
    export, *_ = _jobs(admin)
    page = new_page(width=1280, height=800)
    login(page, admin.username)
    page.goto("/admin/jobs/job/")
    page.locator("#result_list").wait_for()
    sizes = _overflow(page)
    save_screenshot(page, output_dir, "admin-jobs-1280.png")
    assert sizes["doc"][0] <= sizes["doc"][1], sizes
    assert sizes["results"][0] <= sizes["results"][1], sizes
    row = page.locator("#result_list tbody tr", has_text="quarterly report")
    assert READABLE in row.inner_text() and "admin-with-a-long-name" in row.inner_text()
    assert "1,601 / 1,601" in row.inner_text()
    assert "8,113 / 12,000, 37 failed" in page.locator("#result_list").inner_text()
    assert '"status"' not in page.locator("#result_list").inner_text()  # no raw JSON

    page.emulate_media(color_scheme="dark")
    save_screenshot(page, output_dir, "admin-jobs-1280-dark.png")
    page.emulate_media(color_scheme="light")

    page.goto(f"/admin/jobs/job/{export.pk}/change/")
    works_on = page.locator(".field-details")
    assert READABLE in works_on.inner_text()
    assert "1,601 / 1,601" in page.locator(".field-progress").inner_text()
    # The History button sits beside the title's text, not on it: the right end of every
    # line of the text is left of the button (or the lines are below it).
    overlap = page.evaluate("""() => {
        const range = document.createRange();
        range.selectNodeContents(document.querySelector('#content > h2'));
        const tools = document.querySelector('.object-tools').getBoundingClientRect();
        return [...range.getClientRects()].some((line) => line.right > tools.left
            && line.top < tools.bottom && line.bottom > tools.top);
    }""")
    assert not overlap
    sizes = _overflow(page)
    assert sizes["doc"][0] <= sizes["doc"][1], sizes
    save_screenshot(page, output_dir, "admin-job-detail-1280.png")
    assert page.errors == []


def test_the_job_list_at_phone_width(new_page, output_dir):
    admin = make_user(staff=True, superuser=True)
    _jobs(admin)
    page = new_page(width=390, height=844)
    login(page, admin.username)
    page.goto("/admin/jobs/job/")
    page.locator("#result_list").wait_for()
    assert READABLE in page.locator("#result_list").inner_text()
    while page.locator(".toast-close").count():  # the toasts of jobs that ended just before
        page.locator(".toast-close").first.click()
    save_screenshot(page, output_dir, "admin-jobs-390.png")
    page.emulate_media(color_scheme="dark")
    save_screenshot(page, output_dir, "admin-jobs-390-dark.png")
    assert page.errors == []
