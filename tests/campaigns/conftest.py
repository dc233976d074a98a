from __future__ import annotations

from collections.abc import Iterator

import pytest

from realtime_site.mail import transport_override
from tests.campaigns.sink import Sink
from tests.conftest import _sqlite_env


@pytest.fixture
def smtp_settings():
    """Point this process's mail transport at a sink (the runner's threads read it too).

    The one way tests change mail settings: MAILERS["transport"] on Django >= 6.1, EMAIL_* and
    MAIL_TRANSPORT_* before (realtime_site/mail.py).
    """

    def apply(sink: Sink):
        return transport_override(
            "django.core.mail.backends.smtp.EmailBackend",
            {"host": "127.0.0.1", "port": sink.port, "use_tls": False, "use_ssl": False,
             "username": "", "password": ""},
            timeout=5,
        )

    return apply


@pytest.fixture
def sink_factory() -> Iterator:
    started: list[Sink] = []

    def make(**kwargs) -> Sink:
        sink = Sink(**kwargs).start()
        started.append(sink)
        return sink

    yield make
    for sink in started:
        sink.stop()


@pytest.fixture
def held_sink() -> Iterator[Sink]:
    """A sink that accepts 120 messages, then holds every connection's DATA reply until
    `release()`: a campaign frozen mid-send, at a known count, for crash and stop tests."""
    sink = Sink(hold_after=120).start()
    yield sink
    sink.release()
    sink.stop()


def sink_server_env(sink: Sink, media_root, var_dir) -> dict[str, str]:
    """A daphne (or run_job) on the test database mailing to `sink`; progress written every
    2 s, so the row's last progress write trails the sends (the crash and counts tests)."""
    return {**_sqlite_env(media_root, var_dir), "EMAIL_URL": sink.url + "?timeout=30",
            "JOBS_PROGRESS_INTERVAL": "2"}
