"""SMTP configuration from the environment (realtime_site/settings.py)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from realtime_site.settings import _email_settings

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
