"""Browser fixtures: Debian's chromium through Playwright, one daphne for this folder, an SMTP
sink that refuses some recipients.

Never a downloaded browser: `/usr/bin/chromium` (``make test`` installs it with apt-get).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.campaigns.sink import Sink
from tests.conftest import _sqlite_env
from tests.factories import PASSWORD
from tests.services import Daphne

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
# The SMTP sink answers 550 to these recipients.
REFUSED = ("refuse-0@example.com", "refuse-1@example.com", "refuse-2@example.com")


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[Sink]:
    sink = Sink(refuse=set(REFUSED), keep=False).start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def browser_server(django_db_setup, media_root, output_dir, smtp_sink,
                   tmp_path_factory) -> Iterator[Daphne]:
    """The server the browser talks to; its own process, so a test may restart it."""
    env = _sqlite_env(media_root, tmp_path_factory.mktemp("var-browser"))
    env.update(
        EMAIL_URL=smtp_sink.url,
        # Small chunks and a short throttle: a few thousand rows give a bar with many steps.
        EXPORT_CHUNK_SIZE="200",
        JOBS_PROGRESS_INTERVAL="0.05",
    )
    server = Daphne(env=env, log_dir=output_dir, name="daphne-browser").start()
    yield server
    server.stop()


# Module scope, not session: while Playwright runs, its loop is the running loop of this
# thread, and the async tests of other folders (pytest-asyncio) cannot start theirs.
@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run `apt-get install -y chromium` (make test "
                    "does it when run as root) or set CHROMIUM to Debian's chromium binary.")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running on this thread; Django's guard then
    # refuses the ORM calls the tests make between browser steps. Those calls are plain sync
    # code on the test thread, not in a coroutine: the guard does not apply.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def base_url(browser_server, transactional_db) -> str:
    return browser_server.url


@pytest.fixture
def new_page(browser, base_url, output_dir):
    """Factory: a fresh browser context (its own cookies) and page per call."""
    contexts = []

    def make(*, width: int = 1280, height: int = 900):
        context = browser.new_context(viewport={"width": width, "height": height},
                                      accept_downloads=True, base_url=base_url,
                                      # No bar transitions: screenshots show the true width.
                                      reduced_motion="reduce")
        context.set_default_timeout(20_000)
        contexts.append(context)
        page = context.new_page()
        page.errors = []
        page.on("pageerror", lambda error: page.errors.append(str(error)))
        return page

    yield make
    for context in contexts:
        context.close()


def login(page, username: str, path: str = "/") -> None:
    """Through the real login page, as a person would."""
    page.goto(path)
    assert "/accounts/login/" in page.url
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{path}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def save_screenshot(page, output_dir: Path, name: str) -> Path:
    path = output_dir / name
    page.screenshot(path=str(path))
    return path


def copy_to_docs(path: Path) -> None:
    """`UPDATE_DOCS_SCREENSHOT=1 pytest tests/browser` refreshes docs/dashboard.png."""
    if os.environ.get("UPDATE_DOCS_SCREENSHOT"):
        target = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(path, target)


def interrupted_export(owner, *, rows: int, fmt: str = "xlsx"):
    """A warranty export that stopped at 120 of `rows` rows and can be retried (load the claims
    first: `load_demo_claims`)."""
    from jobs.models import Job, JobStatus

    return Job.objects.create(
        kind="export", title="Warranty claims export", owner=owner,
        status=JobStatus.INTERRUPTED, total=rows, done=120, version=7, resumable=True,
        error="Its server was stopped; it can be started again.",
        params={"claim_type": "warranty", "format": fmt, "filters": {}},
    )
