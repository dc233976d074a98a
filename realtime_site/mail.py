"""The mail transport behind post-office, on Django 5.2 (EMAIL_* settings) and 6.1 (MAILERS).

post-office's backend is the default mailer: Django's own mail (send_mail, error mail) becomes
an Email row that post-office delivers at once (DEFAULT_PRIORITY "now") through the
*transport*, the real backend: SMTP, files in var/mail/, or locmem in tests. The campaigns talk
to the transport directly (`transport_connection()`), never through post-office's queue.

Django 6.1 deprecates the EMAIL_* settings and `get_connection()` (RemovedInDjango2028Warning)
in favour of `MAILERS` and `django.core.mail.mailers[alias]`; once MAILERS is defined, EMAIL_*
settings are refused at start-up and reading one raises. So every setting that names the
transport is written by `mail_settings()` below, one shape per Django version from the same
values, and read only through `transport_connection()` (and MAIL_TIMEOUT). On both versions
MAIL_TRANSPORT_BACKEND and MAIL_TRANSPORT_OPTIONS say what the transport is; on 6.1 they mirror
MAILERS["transport"], which is what is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import django

_HAS_MAILERS = django.VERSION >= (6, 1)
# The MAILERS alias of the real transport (Django >= 6.1).
TRANSPORT_ALIAS = "transport"
_QUEUE = "post_office.EmailBackend"
_SMTP = "django.core.mail.backends.smtp.EmailBackend"
# A backend's keyword (a MAILERS OPTIONS key) -> the setting Django 5.2's backends read instead.
_LEGACY = {
    "host": "EMAIL_HOST",
    "port": "EMAIL_PORT",
    "username": "EMAIL_HOST_USER",
    "password": "EMAIL_HOST_PASSWORD",
    "use_tls": "EMAIL_USE_TLS",
    "use_ssl": "EMAIL_USE_SSL",
    "timeout": "EMAIL_TIMEOUT",
    "file_path": "EMAIL_FILE_PATH",
}


def has_mailers() -> bool:
    """True on Django >= 6.1, where MAILERS replaces the EMAIL_* settings."""
    return _HAS_MAILERS


def _settings(backend: str, options: Mapping[str, Any], *, timeout: int,
              post_office: Mapping[str, Any], mailers: Mapping[str, Any] | None,
              queue: str | None) -> dict[str, Any]:
    options = dict(options)
    if backend == _SMTP:
        options.setdefault("timeout", timeout)
    unknown = set(options) - set(_LEGACY)
    if unknown:
        raise ValueError(f"transport options {sorted(unknown)}: only {sorted(_LEGACY)}")
    found: dict[str, Any] = {
        "MAIL_TRANSPORT_BACKEND": backend,
        "MAIL_TRANSPORT_OPTIONS": options,
        # How long the transport may wait on the server; the dispatcher's join deadline too.
        "MAIL_TIMEOUT": timeout,
    }
    if _HAS_MAILERS:
        found["MAILERS"] = {**(mailers or {}), TRANSPORT_ALIAS: {"BACKEND": backend,
                                                                 "OPTIONS": dict(options)}}
        if queue is not None:
            found["MAILERS"]["default"] = {"BACKEND": queue}
        # MAILERS["default"] is post-office's queue: it delivers through the transport.
        found["POST_OFFICE"] = {**post_office, "DEFAULT_MAILER": TRANSPORT_ALIAS}
    else:
        if queue is not None:
            found["EMAIL_BACKEND"] = queue
        found["EMAIL_TIMEOUT"] = timeout
        found.update({_LEGACY[name]: value for name, value in options.items()})
        found["POST_OFFICE"] = {**post_office, "BACKENDS": {"default": backend}}
    return found


def mail_settings(backend: str, options: Mapping[str, Any], *, timeout: int,
                  post_office: Mapping[str, Any]) -> dict[str, Any]:
    """Every mail setting for settings.py: post-office's queue as the default, the transport.

    `options` are the backend's keywords (host, port, username, password, use_tls, use_ssl for
    SMTP; file_path for files); SMTP gets `timeout` too. `post_office` is the POST_OFFICE
    setting without its backends, which this adds. Django >= 6.1: MAILERS = {"default":
    post-office, "transport": backend with options}; before: EMAIL_BACKEND = post-office and
    the EMAIL_* that the transport and post-office's `get_connection(backend)` read.
    """
    return _settings(backend, options, timeout=timeout, post_office=post_office, mailers=None,
                     queue=_QUEUE)


def transport_override(backend: str, options: Mapping[str, Any], *, timeout: int):
    """`override_settings` pointing the transport elsewhere (tests, benchmarks), any version.

    The default mailer stays what it is (the test runner's locmem, usually); post-office
    delivers through the new transport like the campaigns do.
    """
    from django.conf import settings
    from django.test import override_settings

    return override_settings(**_settings(
        backend, options, timeout=timeout, post_office=settings.POST_OFFICE,
        mailers=getattr(settings, "MAILERS", None) if _HAS_MAILERS else None, queue=None))


def transport_connection():
    """A new, unopened instance of the real transport backend, with its configured options."""
    if _HAS_MAILERS:
        from django.core.mail import mailers

        return mailers[TRANSPORT_ALIAS]
    from django.conf import settings
    from django.core.mail import get_connection

    return get_connection(settings.MAIL_TRANSPORT_BACKEND, **settings.MAIL_TRANSPORT_OPTIONS)
