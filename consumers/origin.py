"""Accept a WebSocket only from the site's own origin: scheme, host and port, as a browser
sends them in `Origin`, or one listed in CSRF_TRUSTED_ORIGINS (behind a proxy, another name).

channels' AllowedHostsOriginValidator compares the host name only: a page served by anything
else on the same host (another port or scheme; SameSite ignores ports) could open a socket
with the user's cookie, read their jobs and cancel them. Django's CSRF check compares the whole
origin; so does this, with the same settings (ALLOWED_HOSTS, SECURE_PROXY_SSL_HEADER,
USE_X_FORWARDED_HOST, CSRF_TRUSTED_ORIGINS).
"""

from __future__ import annotations

from typing import Any

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _host(scope: dict) -> str | None:
    host = None
    if settings.USE_X_FORWARDED_HOST:
        forwarded = _header(scope, b"x-forwarded-host")
        host = forwarded.split(",")[-1].strip() if forwarded else None
    return host or _header(scope, b"host")


def _secure(scope: dict) -> bool:
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, expected = proxy  # ("HTTP_X_FORWARDED_PROTO", "https"), as Django spells it
        header = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        value = _header(scope, header)
        return value is not None and value.split(",")[0].strip() == expected
    return False


def origin_allowed(scope: dict) -> bool:
    """Whether the handshake's Origin is this site's own (or a trusted one)."""
    origin = (_header(scope, b"origin") or "").strip().lower()
    host = (_host(scope) or "").strip().lower()
    if not origin or not host:
        return False
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    own = f"{'https' if _secure(scope) else 'http'}://{host}"
    trusted = {o.strip().lower().rstrip("/") for o in settings.CSRF_TRUSTED_ORIGINS}
    return origin == own or origin in trusted


class SameOriginValidator:
    """ASGI middleware: deny (HTTP 403 at the handshake) a socket from any other origin."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
