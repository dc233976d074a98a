"""Error pages: JSON for /api/, plain pages elsewhere; never a debug page for bad input."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from realtime_site.api import json_error


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a JSON 403 for the API."""
    if _is_api(request):
        return json_error("CSRF token missing or incorrect; send the csrftoken cookie's value "
                          "in the X-CSRFToken header.", 403)
    return render(request, "error.html", {"title": "Forbidden", "reason": reason}, status=403)


def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
    """Catch-all for unknown /api/ paths, also with DEBUG on."""
    return json_error("Not found.", 404)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error("Not found.", 404)
    return render(request, "error.html", {"title": "Not found"}, status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return json_error("Server error; it has been logged.", 500)
    return render(request, "error.html", {"title": "Server error"}, status=500)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error("Bad request.", 400)
    return render(request, "error.html", {"title": "Bad request"}, status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return json_error("Forbidden.", 403)
    return render(request, "error.html", {"title": "Forbidden"}, status=403)
