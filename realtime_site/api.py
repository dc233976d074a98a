"""Helpers shared by every JSON endpoint: errors, auth decorators, body parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

MAX_JSON_BODY = 64 * 1024


class ApiError(Exception):
    """Raised in an `api_view` (or a service it calls): answered as the contract's JSON error
    with `status`, the message as the sentence and `extra` beside it."""

    status = 400
    retry_after: int | None = None  # seconds, sent as Retry-After when set

    def __init__(self, message: str, status: int | None = None, **extra: Any) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.extra = extra

    def response(self) -> JsonResponse:
        response = json_error(str(self), self.status, **self.extra)
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


class ServiceUnavailable(ApiError):
    """Raised by a service when this server cannot take the request now: a 503 with
    Retry-After, so the client (or the load balancer) tries again, maybe elsewhere."""

    status = 503
    retry_after = 5


def json_error(message: str, status: int, **extra: Any) -> JsonResponse:
    """The contract's error shape: {"error": "<human sentence>"} with a 4xx status."""
    return JsonResponse({"error": message, **extra}, status=status)


SAFE_METHODS = frozenset({"GET", "HEAD"})
AUTO = "auto"


def api_view(*, methods: tuple[str, ...], staff: bool = False, scope: str | None = AUTO
             ) -> Callable:
    """Answer 401/403/405 as JSON before the view runs.

    `scope` is what an access token (tokens/, `request.access_token`) needs to call the view
    beside its user's own rights: `read`, `start` or `cancel`; None for a view a token may
    not call at all (managing tokens takes a session). The default is `read` for a view that
    only reads, and None for one that changes anything: a new unsafe view is closed to
    tokens until it says which scope it needs. Session requests are not affected.
    """
    if scope == AUTO:
        scope = "read" if set(methods) <= SAFE_METHODS else None

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = json_error(f"Method {request.method} is not allowed here.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            if not request.user.is_authenticated:
                response = json_error("Log in first.", 401)
                response["WWW-Authenticate"] = 'Bearer realm="api"'
                return response
            if staff and not request.user.is_staff:
                return json_error("Only staff members can do this.", 403)
            token = getattr(request, "access_token", None)
            if token is not None:
                if scope is None:
                    return json_error("This endpoint takes a session login, not an access "
                                      "token.", 403)
                if scope not in token.scope_set:
                    return json_error(f"This access token lacks the `{scope}` scope; create "
                                      f"a token with `{scope}` to do this.", 403,
                                      missing_scope=scope)
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return exc.response()

        # Read by tests/contract: docs/openapi.json lists these methods and this scope.
        wrapper.api_methods, wrapper.api_scope, wrapper.api_staff = methods, scope, staff
        return wrapper

    return decorator


class BadRequest(ApiError):
    """A body that cannot be read: 400 with this sentence."""


def request_data(request: HttpRequest) -> dict[str, Any]:
    """Form fields or a JSON object from the body; raise BadRequest when neither is valid."""
    content_type = request.content_type or ""
    if content_type == "application/json":
        if len(request.body) > MAX_JSON_BODY:
            raise BadRequest("The request body is too large.")
        if not request.body:
            return {}
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("The request body is not valid JSON.") from None
        except RecursionError:  # the C decoder's answer to [[[[... thousands deep
            raise BadRequest("The request body is nested too deeply.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data
    return {key: request.POST.get(key) for key in request.POST}


_TRUE, _FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}


def flag(data: dict[str, Any], name: str) -> bool:
    """A boolean field: JSON true/false, or a form's true/false/1/0/yes/no/on/off (absent:
    False); anything else is a 400 with a sentence."""
    value = data.get(name, False)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequest(f"`{name}` must be true or false.")
