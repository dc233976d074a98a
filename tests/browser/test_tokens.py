"""Access tokens from the dashboard, in Debian's chromium against a real daphne: made on the
page (shown once, copied), used alone by a program over HTTP and the WebSocket, revoked on the
page; and a page on another origin still cannot use the admin's cookie, to make a token or
anything else."""

from __future__ import annotations

import re
import threading
from functools import partial
from http.server import ThreadingHTTPServer

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from jobs.models import Job
from tests.browser.conftest import login, save_screenshot
from tests.browser.test_origin import _Page
from tests.factories import make_user
from tokens.models import AccessToken

pytestmark = pytest.mark.browser

TOKEN = re.compile(r"^rtj_[0-9a-f]{8}_[0-9a-f]{48}$")


def _dashboard(new_page, base_url, user, **size):
    page = new_page(**size)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base_url)
    login(page, user.username)
    page.locator("#connection[data-state=live]").wait_for()
    page.locator("#token-list").get_by_text("No tokens yet.").wait_for()
    return page


def _create(page, *, name: str, scopes: tuple[str, ...], expires: str) -> str:
    panel = page.locator("#tokens")
    panel.get_by_label("Name").fill(name)
    for scope in ("read", "start", "cancel"):
        panel.get_by_label(scope, exact=True).set_checked(scope in scopes)
    panel.get_by_label("Expires").select_option(expires)
    panel.get_by_role("button", name="Create token").click()
    page.locator("#token-new").wait_for()
    return page.locator("#token-text").inner_text()


def test_a_token_made_on_the_dashboard_works_alone_until_revoked_there(
        new_page, base_url, browser_server, output_dir):
    admin = make_user(staff=True)
    job = Job.objects.create(kind="demo", owner=admin, title="queued job", status="queued")
    page = _dashboard(new_page, base_url, admin)
    text = _create(page, name="nightly script", scopes=("read", "start"), expires="30d")
    assert TOKEN.match(text), text
    page.get_by_role("button", name="Copy").click()
    page.get_by_text("Copied.").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == text
    row = page.locator(".token-row").first
    row.get_by_text("read, start · expires in 30 days · last used never").wait_for()
    assert text[:12] in row.inner_text() and text not in row.inner_text()
    page.locator("#tokens").screenshot(path=str(output_dir / "tokens-created.png"))

    # The program: the token and nothing else.
    headers = {"Authorization": f"Bearer {text}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=20) as program:
        assert program.get("/api/jobs/").json()["jobs"][0]["id"] == str(job.pk)
        refused = program.post(f"/api/jobs/{job.pk}/cancel/")
        assert refused.status_code == 403 and "`cancel` scope" in refused.json()["error"]
        ws = connect(browser_server.ws_url + "/ws/jobs/", additional_headers=headers,
                     open_timeout=10, legacy=True)
        assert '"jobs.snapshot"' in ws.recv(timeout=10)

        page.reload()  # shown once: after a reload only the prefix is left
        page.locator(".token-row").first.get_by_text("last used").wait_for()
        assert text not in page.content()
        assert page.locator("#token-new").is_hidden()
        assert "last used never" not in page.locator(".token-row").first.inner_text()

        page.once("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name=re.compile(r"^Revoke nightly script")).click()
        page.locator('.token-row[data-status="revoked"]').wait_for()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                ws.recv(timeout=10)
        assert closed.value.rcvd.code == 4401
        answer = program.get("/api/jobs/")
        assert answer.status_code == 401 and answer.json()["error"] == (
            "This access token was revoked.")
    page.locator("#tokens").screenshot(path=str(output_dir / "tokens-revoked.png"))
    assert AccessToken.objects.get().revoked_at is not None
    assert page.errors == []


def test_the_token_panel_at_phone_width(new_page, base_url, output_dir):
    admin = make_user(staff=True)
    page = _dashboard(new_page, base_url, admin, width=390, height=844)
    text = _create(page, name="phone", scopes=("read",), expires="never")
    assert TOKEN.match(text)
    page.locator(".token-row").first.get_by_text("read · expires never").wait_for()
    page.locator("#tokens").scroll_into_view_if_needed()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sticks out
    copy = page.get_by_role("button", name="Copy").bounding_box()
    assert copy["x"] >= 0 and copy["x"] + copy["width"] <= 390
    page.locator("#tokens").screenshot(path=str(output_dir / "tokens-phone.png"))
    assert page.errors == []


FOREIGN_PAGE = """<!doctype html><title>another app on this host</title><pre id=log></pre>
<script>
const base = '%s';
window.__result = {token: null, export: null, socket: null};
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
// A "simple" cross-origin POST: no preflight, and the browser adds the cookie (same site:
// SameSite ignores ports). Only the CSRF check stands in the way.
const post = (path, body) => fetch(base + path, {method: 'POST', credentials: 'include',
    headers: {'Content-Type': 'text/plain'}, body})
  .then((r) => 'answered ' + r.status).catch((e) => 'unreadable: ' + e.name);
post('/api/tokens/', '{"name": "stolen"}').then((r) => { window.__result.token = r; log(r); });
post('/api/exports/', 'claim_type=accident').then((r) => { window.__result.export = r; log(r); });
const ws = new WebSocket(base.replace('http', 'ws') + '/ws/jobs/');
ws.onclose = (e) => { window.__result.socket = e.code; log('socket closed ' + e.code); };
</script>"""


@pytest.fixture
def foreign_site(base_url):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Page, (FOREIGN_PAGE % base_url)
                                                           .encode()))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_page_on_another_origin_still_cannot_use_the_cookie(new_page, base_url, foreign_site,
                                                              output_dir):
    admin = make_user(staff=True)
    page = _dashboard(new_page, base_url, admin)
    page.goto(foreign_site)
    page.wait_for_function("window.__result.token && window.__result.export "
                           "&& window.__result.socket !== null")
    result = page.evaluate("window.__result")
    save_screenshot(page, output_dir, "tokens-foreign-origin.png")
    # No CORS for anyone: the page reads nothing; the server refused (CSRF, Origin) and made
    # neither a token nor a job.
    assert result["token"].startswith("unreadable") and result["export"].startswith("unreadable")
    assert result["socket"] == 1006
    assert not AccessToken.objects.exists() and not Job.objects.exists()
