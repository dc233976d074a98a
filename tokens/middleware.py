"""HTTP: an `Authorization: Bearer` header on /api/ authenticates the request as the token's
user, in place of the session, and marks it exempt from CSRF.

Why no CSRF token and no Origin check for these: CSRF forges what a browser adds on its own
(the session cookie). A browser never adds an Authorization: Bearer header by itself, and a
page on another origin cannot set one on a cross-origin request without a CORS preflight,
which this site never grants. So a bearer request carries nothing ambient to forge. A
request without the header is untouched: the session and Django's CSRF check as before.

With the header, the session cookie is not consulted at all, and a bad token is a 401, never
a fall back to the cookie (a client must not get "works on my machine" from a stale login).
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from realtime_site.api import json_error
from tokens.header import QUERY_REFUSAL, HeaderRefused, bearer_token, token_in_query
from tokens.services import TokenRefused, token_authenticate, token_touch


def _refusal(message: str, status: int, challenge: str | None) -> HttpResponse:
    response = json_error(message, status)
    if challenge:
        response["WWW-Authenticate"] = challenge
    return response


class AccessTokenMiddleware:
    """After AuthenticationMiddleware (it replaces request.user), before any view."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.access_token = None
        if not request.path.startswith("/api/"):
            return self.get_response(request)  # pages: sessions only
        if token_in_query(request.META.get("QUERY_STRING", "")):
            return _refusal(QUERY_REFUSAL, 400, 'Bearer error="invalid_request"')
        header = request.META.get("HTTP_AUTHORIZATION")
        if header is None:
            return self.get_response(request)
        try:
            token = token_authenticate(bearer_token(header))
        except HeaderRefused as exc:
            return _refusal(str(exc), exc.status, exc.challenge)
        except TokenRefused as exc:
            return _refusal(str(exc), 401, 'Bearer error="invalid_token"')
        token_touch(token)
        user = token.user

        async def auser() -> object:  # Django's async accessor, else the session's user
            return user

        request.user, request.auser = user, auser
        request.access_token = token
        # Read by CsrfViewMiddleware.process_view, which runs after this (see above for why).
        # The flag Django's own test client sets, there since Django 1.x; were it ever
        # dropped, token POSTs would fail closed (403 CSRF), and tests/tokens says so.
        request._dont_enforce_csrf_checks = True
        return self.get_response(request)
