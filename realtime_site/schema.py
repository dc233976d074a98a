"""`GET /api/schema/`: the OpenAPI 3.1 document of the HTTP API, docs/openapi.json.

Kept by hand beside docs/contract.md and pinned to the code by tests/contract/ (routes and
methods, JOB fields, every status code produced, schemathesis against a live daphne).
Readable without logging in: it says nothing the public contract does not, holds no data,
and a program (or a client generator) needs it before it has a token.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from realtime_site.api import json_error

SCHEMA_FILE = settings.BASE_DIR / "docs" / "openapi.json"
METHODS = ("GET", "HEAD")


@cache
def _document() -> bytes:
    return SCHEMA_FILE.read_bytes()


def openapi_schema(request: HttpRequest) -> HttpResponse:
    """The document as it is on disk (JSON); 405 with Allow for other methods."""
    if request.method not in METHODS:
        response = json_error(f"Method {request.method} is not allowed here.", 405)
        response["Allow"] = ", ".join(METHODS)
        return response
    response = HttpResponse(_document(), content_type="application/json")
    response["Cache-Control"] = "public, max-age=300"
    return response


openapi_schema.api_methods = METHODS  # read by tests/contract like api_view's
openapi_schema.csrf_exempt = True  # a POST is a 405, not a CSRF 403
