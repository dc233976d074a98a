"""Filtered exports from the dashboard, in chromium against a real daphne: open *Filters*, pick a
status and a date, watch the live count follow, export, see the filters on the job's card, and
download a file whose name carries them and whose rows all match."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import openpyxl
import pytest
from playwright.sync_api import expect

from exports.models import AccidentClaim
from tests.browser.conftest import login
from tests.exports.factories import make_accidents, make_car
from tests.factories import make_user

pytestmark = pytest.mark.browser

FILE_NAME = re.compile(r"accident-claims_status-paid_created-at-from-2026-01-01"
                       r"_\d{8}-\d{4}\.xlsx")
SUBTITLE = "Status: Paid · Created at: from 2026-01-01"


def _claims() -> int:
    """40 open and 15 paid accident claims, 5 of the paid ones from 2025; returns the total."""
    make_accidents(40, status="open")
    paid = make_accidents(15, car=make_car(make="Audi"), status="paid")
    AccidentClaim.objects.filter(pk__in=[c.pk for c in paid[:5]]).update(
        created_at=datetime(2025, 5, 4, 9, tzinfo=UTC))
    return AccidentClaim.objects.count()


def _open(new_page, user, **size):
    page = new_page(**size)
    login(page, user.username)
    page.locator("#connection[data-state=live]").wait_for()
    return page


def _shots(page, output_dir, name: str) -> None:
    """The whole page, light and dark; each one looked at by whoever changes this card."""
    page.screenshot(path=str(output_dir / f"{name}-light.png"), full_page=True)
    page.emulate_media(color_scheme="dark")
    page.screenshot(path=str(output_dir / f"{name}-dark.png"), full_page=True)
    page.emulate_media(color_scheme="light")


def test_filter_count_export_card_and_file(new_page, output_dir, tmp_path):
    total = _claims()
    page = _open(new_page, make_user(staff=True))
    row = page.locator('[data-claim-type="accident"]')
    row.get_by_text(f"{total:,} rows").wait_for()
    count = row.locator("[data-role=count]")
    filtered_xlsx = page.get_by_role("button", name="Export filtered Accident claims as Excel")

    # Collapsed at first: the one-click buttons are all that shows.
    expect(row.get_by_label("Status")).to_be_hidden()
    row.locator("summary").click()
    expect(count).to_have_text(f"No filter chosen: the buttons above export all {total:,}.")
    expect(filtered_xlsx).to_be_disabled()

    row.get_by_label("Status").select_option(label="Paid")
    expect(count).to_have_text(f"15 of {total:,} claims match.")
    row.get_by_label("Created at from").fill("2026-01-01")
    expect(count).to_have_text(f"10 of {total:,} claims match.")
    expect(row.locator("[data-role=active]")).to_have_text("2 set")
    expect(filtered_xlsx).to_be_enabled()

    # A choice nothing matches: said so, and nothing to export.
    row.get_by_label("Status").select_option(label="Rejected")
    expect(count).to_have_text("No claims match these filters.")
    expect(filtered_xlsx).to_be_disabled()
    row.get_by_label("Status").select_option(label="Paid")
    expect(count).to_have_text(f"10 of {total:,} claims match.")

    filtered_xlsx.click()
    job_card = page.locator(".job").first
    expect(job_card.locator("[data-role=subtitle]")).to_have_text(SUBTITLE)
    download = job_card.get_by_role("link", name="Download Accident claims export, filtered")
    download.wait_for()
    ended = page.locator(".toast").filter(has_text="Accident claims export, filtered finished")
    ended.locator(".toast-close").click()  # out of the screenshots' way
    expect(ended).to_have_count(0)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    _shots(page, output_dir, "export-filters-1280")

    with page.expect_download() as info:
        download.click()
    name = info.value.suggested_filename
    assert FILE_NAME.fullmatch(name), name
    path = tmp_path / name
    info.value.save_as(path)
    sheet = openpyxl.load_workbook(path, read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    created = next(i for i, h in enumerate(header) if h.startswith("Created at ("))
    status = header.index("Status")
    assert len(body) == 10
    assert {r[status] for r in body} == {"Paid"}
    assert all(r[created] >= datetime(2026, 1, 1) for r in body)
    assert page.errors == []


def test_filters_at_phone_width(new_page, output_dir):
    total = _claims()
    page = _open(new_page, make_user(staff=True), width=390, height=844)
    row = page.locator('[data-claim-type="accident"]')
    row.get_by_text(f"{total:,} rows").wait_for()
    row.locator("summary").click()
    row.get_by_label("Police involved").select_option(label="Yes")
    row.get_by_label("Amount min").fill("1240")
    row.get_by_label("Make contains").fill("aud")
    expect(row.locator("[data-role=count]")).to_have_text(f"5 of {total:,} claims match.")
    row.scroll_into_view_if_needed()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scroll at phone width"
    # Every input inside the card, none cut off by its edge.
    box = row.bounding_box()
    for field in row.locator("input, select").all():
        inner = field.bounding_box()
        assert box["x"] <= inner["x"] and inner["x"] + inner["width"] <= box["x"] + box["width"]
    row.screenshot(path=str(output_dir / "export-filters-390-light.png"))
    page.emulate_media(color_scheme="dark")
    row.screenshot(path=str(output_dir / "export-filters-390-dark.png"))
    page.emulate_media(color_scheme="light")

    page.get_by_role("button", name="Export filtered Accident claims as CSV").click()
    job_card = page.locator(".job").first
    expect(job_card.locator("[data-role=subtitle]")).to_have_text(
        "Make: contains “aud” · Police involved: yes · Amount: at least 1,240")  # form order
    job_card.get_by_role("link", name="Download Accident claims export (CSV), filtered").wait_for()
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{overflow}px of horizontal scroll at phone width with the card"
    ended = page.locator(".toast").filter(has_text="(CSV), filtered finished")
    ended.locator(".toast-close").click()
    expect(ended).to_have_count(0)
    job_card.scroll_into_view_if_needed()
    _shots(page, output_dir, "export-filters-390-page")
    job_card.screenshot(path=str(output_dir / "export-filters-390-card.png"))
    assert page.errors == []
