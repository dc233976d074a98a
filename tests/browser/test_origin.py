"""A page served by something else on the same host (another port) cannot use the admin's
cookie to read their jobs over the WebSocket: cookies ignore ports, the Origin check must not."""

from __future__ import annotations

import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.models import Job
from tests.browser.conftest import login, save_screenshot
from tests.factories import make_user

pytestmark = pytest.mark.browser

FOREIGN_PAGE = """<!doctype html><title>another app on this host</title><pre id=log></pre>
<script>
const log = (line) => { document.getElementById('log').textContent += line + '\\n'; };
window.__result = {messages: [], closed: null};
const ws = new WebSocket('%s/ws/jobs/');
ws.onopen = () => log('open');
ws.onmessage = (e) => { window.__result.messages.push(e.data); log('message ' + e.data); };
ws.onclose = (e) => { window.__result.closed = e.code; log('closed ' + e.code); };
</script>"""


class _Page(BaseHTTPRequestHandler):
    def __init__(self, body: bytes, *args, **kwargs):
        self.body = body
        super().__init__(*args, **kwargs)

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args):
        pass


@pytest.fixture
def foreign_site(base_url):
    ws_url = base_url.replace("http://", "ws://", 1)
    body = (FOREIGN_PAGE % ws_url).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Page, body))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_a_page_on_another_port_cannot_open_the_socket(new_page, foreign_site, output_dir):
    admin = make_user(staff=True)
    Job.objects.create(kind="demo", owner=admin, title="SECRET job of the admin",
                       status="succeeded")
    page = new_page()
    login(page, admin.username)  # the session cookie for 127.0.0.1, whatever the port
    page.locator("#connection[data-state=live]").wait_for()  # the site's own page may
    page.goto(foreign_site)
    page.wait_for_function("window.__result && window.__result.closed !== null")
    result = page.evaluate("window.__result")
    save_screenshot(page, output_dir, "foreign-origin.png")
    assert result["messages"] == [] and result["closed"] == 1006  # refused at the handshake
