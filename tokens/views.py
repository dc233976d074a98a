"""The dashboard's token API: list, create, revoke one's own tokens. Session only: a token
cannot mint or revoke tokens (a leaked `read` token must not be able to make a `start` one)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from realtime_site.api import api_view, json_error, request_data
from tokens.scopes import ScopeError, parse_expiry
from tokens.services import (
    TokenNotAllowed,
    token_create,
    token_revoke,
    token_snapshot,
    tokens_of,
)


@api_view(methods=("GET", "POST"), staff=True, scope=None)
def token_collection(request: HttpRequest) -> HttpResponse:
    """GET: the caller's tokens. POST {name, scopes, expires}: 201 with the token text, once."""
    if request.method == "GET":
        return JsonResponse({"tokens": [token_snapshot(t) for t in tokens_of(request.user)]})
    data = request_data(request)
    try:
        expires_in = parse_expiry(data.get("expires", "30d"))
        token, text = token_create(user=request.user, name=_text(data.get("name")),
                                   scopes=data.get("scopes"), expires_in=expires_in)
    except (ScopeError, TokenNotAllowed) as exc:
        return json_error(str(exc), 400)
    response = JsonResponse({"token": text, "access_token": token_snapshot(token)}, status=201)
    response["Cache-Control"] = "no-store"  # the one answer that carries the secret
    return response


@api_view(methods=("POST",), staff=True, scope=None)
def token_revoke_view(request: HttpRequest, token_id: int) -> HttpResponse:
    """Revoke one of the caller's tokens (404 for anyone else's)."""
    token = token_revoke(token_id=token_id, user=request.user)
    if token is None:
        return json_error("No such token.", 404)
    return JsonResponse({"access_token": token_snapshot(token)})


def _text(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise TokenNotAllowed("The name must be text.")
    return value
