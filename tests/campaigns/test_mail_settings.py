"""Mail configuration from the environment (realtime_site/settings.py, realtime_site/mail.py)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import EmailMessage
from django.utils.deprecation import RemovedAfterNextVersionWarning, RemovedInNextVersionWarning

from realtime_site.mail import TRANSPORT_ALIAS, has_mailers, transport_connection
from realtime_site.settings import _email_settings
from tests.services import ROOT

SMTP = "django.core.mail.backends.smtp.EmailBackend"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("EMAIL_URL", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_HOST_USER",
                 "EMAIL_HOST_PASSWORD", "EMAIL_USE_TLS", "EMAIL_USE_SSL"):
        monkeypatch.delenv(name, raising=False)


def test_unset_writes_files():
    assert _email_settings()["backend"] == "django.core.mail.backends.filebased.EmailBackend"


def test_email_url_gives_every_part(monkeypatch):
    monkeypatch.setenv("EMAIL_URL", "smtp://us%40er:p%3Ass@mail.example:2525?tls=1&timeout=7")
    assert _email_settings() == {
        "backend": SMTP, "host": "mail.example", "port": 2525, "user": "us@er",
        "password": "p:ss", "tls": True, "ssl": False, "timeout": 7,
    }


@pytest.mark.parametrize(("url", "port", "tls", "ssl"), [
    ("smtp://mail", 25, False, False),
    ("submission://mail", 587, True, False),
    ("smtps://mail", 465, False, True),
])
def test_scheme_defaults(monkeypatch, url, port, tls, ssl):
    monkeypatch.setenv("EMAIL_URL", url)
    found = _email_settings()
    assert (found["port"], found["tls"], found["ssl"]) == (port, tls, ssl)


def test_host_variables(monkeypatch):
    monkeypatch.setenv("EMAIL_HOST", "relay")
    monkeypatch.setenv("EMAIL_PORT", "587")
    monkeypatch.setenv("EMAIL_HOST_USER", "u")
    monkeypatch.setenv("EMAIL_HOST_PASSWORD", "p")
    monkeypatch.setenv("EMAIL_USE_TLS", "yes")
    found = _email_settings()
    assert (found["backend"], found["host"], found["port"], found["user"], found["password"],
            found["tls"]) == (SMTP, "relay", 587, "u", "p", True)


@pytest.mark.parametrize("url", ["http://mail", "smtp://mail?timeout=soon"])
def test_bad_email_url_fails_with_a_sentence(monkeypatch, url):
    monkeypatch.setenv("EMAIL_URL", url)
    with pytest.raises(ImproperlyConfigured, match="EMAIL_URL"):
        _email_settings()


# --- the transport on the running Django version (realtime_site/mail.py) ----------------------
# Django's own deprecations on either version; on 6.1 the second is RemovedInDjango2028Warning,
# which EMAIL_* settings and get_connection() raise.
DJANGO_DEPRECATIONS = (RemovedInNextVersionWarning, RemovedAfterNextVersionWarning)


@contextmanager
def no_django_deprecations() -> Iterator[None]:
    """Fail when the body issues one of Django's deprecation warnings (even if caught)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    found = [f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})" for w in caught
             if issubclass(w.category, DJANGO_DEPRECATIONS)]
    assert found == []


def _message(to: str) -> EmailMessage:
    return EmailMessage("Transport check", "Body.", "from@example.test", [to])


def test_the_transport_is_the_test_outbox(mailoutbox):
    with no_django_deprecations():
        sent = transport_connection().send_messages([_message("outbox@example.test")])
    assert sent == 1
    assert [m.to for m in mailoutbox] == [["outbox@example.test"]]
    if has_mailers():
        assert mailoutbox[0].sent_using == TRANSPORT_ALIAS


def test_the_transport_sends_over_smtp_without_deprecations(sink_factory, smtp_settings):
    sink = sink_factory()
    with no_django_deprecations(), smtp_settings(sink):
        backend = transport_connection()
        assert (backend.host, backend.port, backend.timeout) == ("127.0.0.1", sink.port, 5)
        with backend:
            assert backend.send_messages([_message("smtp@example.test")]) == 1
        assert settings.MAIL_TIMEOUT == 5
    assert sink.wait_for(1, timeout=10)
    assert sink.recipients() == {"smtp@example.test": 1}


@pytest.mark.django_db
def test_post_office_delivers_through_the_transport(sink_factory, smtp_settings):
    from post_office import mail
    from post_office.models import STATUS

    sink = sink_factory()
    with no_django_deprecations(), smtp_settings(sink):
        email = mail.send("queued@example.test", "from@example.test", subject="Queued",
                          message="Body.", priority="now")
    assert email.status == STATUS.sent, list(email.logs.values_list("message", flat=True))
    assert sink.wait_for(1, timeout=10)
    assert sink.recipients() == {"queued@example.test": 1}


STARTUP = """
import json, warnings
from django.utils.deprecation import RemovedAfterNextVersionWarning, RemovedInNextVersionWarning
for category in (RemovedInNextVersionWarning, RemovedAfterNextVersionWarning):
    warnings.filterwarnings("error", category=category)
import django
django.setup()
from django.conf import settings
from realtime_site.mail import has_mailers, transport_connection
from django.core.mail.backends.smtp import EmailBackend
from post_office.connections import connections
from post_office.settings import get_default_mailer
backend = transport_connection()
EmailBackend.open = lambda self: None  # post-office opens what it resolves; nobody listens
delivery = connections[get_default_mailer()]  # what a queued Email goes out through
print(json.dumps({
    "backend": f"{type(backend).__module__}.{type(backend).__name__}",
    "smtp": [backend.host, backend.port, backend.username, backend.password, backend.use_tls,
             backend.use_ssl, backend.timeout],
    "post_office": [f"{type(delivery).__module__}.{type(delivery).__name__}", delivery.host,
                    delivery.port, delivery.timeout],
    "timeout": settings.MAIL_TIMEOUT,
    "email_settings": sorted(n for n in dir(settings) if n.startswith("EMAIL_")
                             and settings.is_overridden(n)),
    "mailers": sorted(getattr(settings, "MAILERS", {})),
}))
"""


def test_settings_from_email_url_start_without_deprecations(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "realtime_site.settings",
           "DJANGO_VAR_DIR": str(tmp_path),
           "EMAIL_URL": "submission://us%40er:p%3Ass@mail.example?timeout=7"}
    done = subprocess.run([sys.executable, "-c", STARTUP], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["backend"] == SMTP
    assert got["smtp"] == ["mail.example", 587, "us@er", "p:ss", True, False, 7]
    assert got["post_office"] == [SMTP, "mail.example", 587, 7]
    assert got["timeout"] == 7
    if has_mailers():
        assert got["email_settings"] == []  # refused next to MAILERS at start-up
        assert got["mailers"] == ["default", TRANSPORT_ALIAS]
    else:
        assert "EMAIL_HOST" in got["email_settings"] and got["mailers"] == []
