"""The export HTTP API of docs/contract.md: start an export, list the types."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse, JsonResponse

from exports.selectors import export_types_summary
from exports.services import ExportInvalid, export_start
from jobs.snapshot import job_snapshot
from realtime_site.api import BadRequest, api_view, json_error, request_data


def _filters(data: dict) -> object:
    """`filters` as an object (JSON) or JSON text (a form field); `status` is a shortcut."""
    filters = data.get("filters")
    if isinstance(filters, str) and filters.strip():
        try:
            filters = json.loads(filters)
        except ValueError:
            raise BadRequest("filters must be a JSON object.") from None
    if data.get("status") not in (None, ""):
        if filters in (None, ""):
            filters = {}
        if isinstance(filters, dict):
            filters = {**filters, "status": data["status"]}
    return filters


@api_view(methods=("POST",), staff=True)
def export_start_view(request: HttpRequest) -> HttpResponse:
    """Start an export of one claim type: 202 with the job, 400 with the choices."""
    try:
        data = request_data(request)
        filters = _filters(data)
        job = export_start(owner_id=request.user.pk, claim_type=data.get("claim_type"),
                           fmt=data.get("format") or "xlsx", filters=filters)
    except BadRequest as exc:
        return json_error(str(exc), 400)
    except ExportInvalid as exc:
        return json_error(str(exc), 400, **exc.extra)
    return JsonResponse({"job": job_snapshot(job)}, status=202)


@api_view(methods=("GET",), staff=True)
def export_types_view(request: HttpRequest) -> HttpResponse:
    """The claim types with their row counts: staff only, like the agreements' unsigned counts
    (reminder recipients have accounts too, and the claim volumes are not theirs to see)."""
    return JsonResponse({"types": export_types_summary()})
