from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import override_settings

from tests.campaigns.sink import Sink


@pytest.fixture
def smtp_settings():
    """Point this process's mail transport at a sink (the runner's threads read it too)."""

    def apply(sink: Sink):
        return override_settings(
            MAIL_TRANSPORT_BACKEND="django.core.mail.backends.smtp.EmailBackend",
            EMAIL_HOST="127.0.0.1", EMAIL_PORT=sink.port, EMAIL_USE_TLS=False,
            EMAIL_USE_SSL=False, EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="", EMAIL_TIMEOUT=5,
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
