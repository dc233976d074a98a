"""The dashboard of a staff member with some rights: only what they may start is offered."""

from __future__ import annotations

import pytest

from tests.browser.conftest import login, save_screenshot
from tests.factories import make_user

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("roles", "shown", "hidden"), [
    ((), ["Nothing to start"], ["Exports", "Reminder campaigns"]),
    (("exporter",), ["Exports"], ["Reminder campaigns", "Nothing to start"]),
])
def test_the_dashboard_offers_only_what_the_user_may_start(new_page, output_dir, roles, shown,
                                                           hidden):
    clerk = make_user(staff=True, roles=roles)
    page = new_page()
    login(page, clerk.username)
    page.locator("#connection[data-state=live]").wait_for()
    if "exporter" in roles:
        page.locator("[data-claim-type]").first.wait_for()  # the types it may export, loaded
    save_screenshot(page, output_dir, f"dashboard-roles-{'-'.join(roles) or 'none'}.png")
    for heading in shown:
        assert page.get_by_role("heading", name=heading).is_visible()
    for heading in hidden:
        assert page.get_by_role("heading", name=heading).count() == 0
    assert page.errors == []
