"""The WebSocket handshake with an access token: `Authorization: Bearer` on the upgrade
request, instead of the session cookie and the Origin check.

A browser's WebSocket API cannot set an Authorization header, and never adds a Bearer one by
itself, so a handshake that carries one comes from a program that holds the token: nothing
ambient for another origin's page to borrow, hence no Origin check (programs send none). Any
other handshake takes the cookie path exactly as before: SameOriginValidator, then the session.

A refusal is not decided here but handed to the consumer (`scope["auth_refusal"]`, a close
code and a sentence): it accepts, sends the sentence as an `error` frame and closes with the
code, because closing before accept hides the code (docs/architecture.md, trap 12).
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from tokens.header import QUERY_REFUSAL, HeaderRefused, bearer_token, token_in_query
from tokens.services import TokenRefused, token_authenticate, token_touch

CLOSE_BAD_REQUEST = 4400  # a token in the URL: HTTP's 400 in the application range
CLOSE_UNAUTHENTICATED = 4401


def _authorization(scope: dict) -> bytes | None:
    for key, value in scope.get("headers", []):
        if key == b"authorization":
            return value
    return None


@database_sync_to_async
def _authenticate(header: bytes) -> tuple[Any, Any]:
    token = token_authenticate(bearer_token(header))
    token_touch(token)
    return token, token.user


class BearerOrCookie:
    """ASGI middleware for `websocket` scopes: the token path or the cookie path."""

    def __init__(self, *, token_app: Any, cookie_app: Any) -> None:
        self.token_app = token_app
        self.cookie_app = cookie_app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> Any:
        if token_in_query(scope.get("query_string", b"")):
            refused = {"auth_refusal": (CLOSE_BAD_REQUEST, QUERY_REFUSAL)}
            return await self.token_app({**scope, "user": AnonymousUser(), **refused},
                                        receive, send)
        header = _authorization(scope)
        if header is None or not header.lower().startswith(b"bearer"):
            return await self.cookie_app(scope, receive, send)
        try:
            token, user = await _authenticate(header)
        except (HeaderRefused, TokenRefused) as exc:
            refused = {"auth_refusal": (CLOSE_UNAUTHENTICATED, str(exc))}
            return await self.token_app({**scope, "user": AnonymousUser(), **refused},
                                        receive, send)
        return await self.token_app({**scope, "user": user, "access_token": token},
                                    receive, send)
