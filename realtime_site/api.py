"""Helpers shared by every JSON endpoint: errors, auth decorators, body parsing."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

MAX_JSON_BODY = 64 * 1024


def json_error(message: str, status: int, **extra: Any) -> JsonResponse:
    """The contract's error shape: {"error": "<human sentence>"} with a 4xx status."""
    return JsonResponse({"error": message, **extra}, status=status)


def api_view(*, methods: tuple[str, ...], staff: bool = False) -> Callable:
    """Answer 401/403/405 as JSON before the view runs."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = json_error(f"Method {request.method} is not allowed here.", 405)
                response["Allow"] = ", ".join(methods)
                return response
            if not request.user.is_authenticated:
                return json_error("Log in first.", 401)
            if staff and not request.user.is_staff:
                return json_error("Only staff members can do this.", 403)
            from jobs.services import ServerShuttingDown

            try:
                return view(request, *args, **kwargs)
            except ServerShuttingDown as exc:
                response = json_error(str(exc), 503)
                response["Retry-After"] = "5"
                return response

        return wrapper

    return decorator


class BadRequest(Exception):
    """A body that cannot be read; the view answers 400 with this sentence."""


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
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        return data
    return {key: request.POST.get(key) for key in request.POST}
