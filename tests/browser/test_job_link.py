"""The summary email's link, SITE_URL/#job-<id>, lands on that job's card."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs.models import Job
from tests.browser.conftest import login, save_screenshot
from tests.factories import make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("width", "height", "scheme"), [(1280, 800, "light"),
                                                           (390, 844, "dark")])
def test_a_link_to_one_job_scrolls_to_its_card_and_marks_it(new_page, output_dir, width, height,
                                                            scheme):
    owner = make_user(staff=True)
    now = timezone.now()
    target = Job.objects.create(kind="demo", owner=owner, title="Reminders: the linked one",
                                status="succeeded", total=1601, done=1601, started_at=now,
                                finished_at=now)
    for i in range(12):  # newer jobs above it: the card starts below the fold
        Job.objects.create(kind="demo", owner=owner, title=f"Demo: newer job {i}",
                           status="succeeded", total=20, done=20, started_at=now, finished_at=now)
    page = new_page(width=width, height=height)
    page.emulate_media(color_scheme=scheme)
    login(page, owner.username)
    page.goto(f"/#job-{target.pk}")
    card = page.locator(f'[data-job-id="{target.pk}"]')
    expect(card).to_have_class(re.compile(r"\bjob-linked\b"))
    expect(card).to_be_in_viewport()
    save_screenshot(page, output_dir, f"job-link-{width}-{scheme}.png")
    assert page.errors == []
