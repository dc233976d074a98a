"""The export HTTP API of docs/contract.md: start an export, list the types, count rows."""

from __future__ import annotations

import decimal
import json

from django.db import DataError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

from exports.describe import filters_subtitle
from exports.filters import FilterError, filters_clean
from exports.permissions import export_refusal, exportable_types, may_export
from exports.registry import EXPORT_TYPES
from exports.selectors import export_count, export_types_summary
from exports.services import ExportInvalid, export_start
from jobs.snapshot import job_snapshot
from realtime_site.api import BadRequest, api_view, json_error, request_data


def _filters(data: dict) -> object:
    """`filters` as an object (JSON) or JSON text (a form field); `status` is a shortcut."""
    filters = data.get("filters")
    if isinstance(filters, str) and filters.strip():
        try:
            filters = json.loads(filters)
        except (ValueError, RecursionError):  # RecursionError: nested thousands deep
            raise BadRequest("filters must be a JSON object.") from None
    if data.get("status") not in (None, ""):
        if filters in (None, ""):
            filters = {}
        if isinstance(filters, dict):
            filters = {**filters, "status": data["status"]}
    return filters


@api_view(methods=("POST",), staff=True, scope="start")
def export_start_view(request: HttpRequest) -> HttpResponse:
    """Start an export of one claim type: 202 with the job, 400 with the choices."""
    data = request_data(request)
    filters = _filters(data)
    entry = EXPORT_TYPES.get(data.get("claim_type")) if isinstance(
        data.get("claim_type"), str) else None
    if entry is not None and not may_export(request.user, entry):
        return json_error(export_refusal(entry), 403)
    try:
        job = export_start(owner_id=request.user.pk, claim_type=data.get("claim_type"),
                           fmt=data.get("format") or "xlsx", filters=filters)
    except ExportInvalid as exc:
        extra = dict(exc.extra)
        if "choices" in extra and entry is None:  # name only the types this user may export
            extra["choices"] = sorted(t.key for t in exportable_types(request.user))
        return json_error(str(exc), 400, **extra)
    return JsonResponse({"job": job_snapshot(job)}, status=202)


@api_view(methods=("GET",), staff=True)
def export_types_view(request: HttpRequest) -> HttpResponse:
    """The claim types this user may export, with their row counts: staff only, like the
    agreements' unsigned counts (the claim volumes are not every account's to see)."""
    return JsonResponse({"types": export_types_summary(types=exportable_types(request.user))})


@api_view(methods=("GET",), staff=True)
def export_count_view(request: HttpRequest, claim_type: str) -> HttpResponse:
    """How many rows an export of `claim_type` with the query's filters (lookup=value, as in
    POST's `filters`) would write now: the dashboard's live count. The same checks as a
    start, so a count never accepts what an export would refuse."""
    entry = EXPORT_TYPES.get(claim_type)
    if entry is None:
        return json_error(f"There is no claim type {claim_type[:40]!r}.", 404,
                          choices=sorted(t.key for t in exportable_types(request.user)))
    if not may_export(request.user, entry):
        return json_error(export_refusal(entry), 403)
    filters = {}
    for key, values in request.GET.lists():
        if len(values) > 1:
            return json_error(f"The filter {key[:60]!r} is given {len(values)} times; give it "
                              f"once (a list of values: {key[:60]}__in=a,b).", 400,
                              allowed_filters=list(entry.filters))
        filters[key] = values[0]
    try:
        clean = filters_clean(entry, filters)
        subtitle = filters_subtitle(entry, clean)
        with transaction.atomic():  # a refused query leaves the request's connection usable
            rows = export_count(entry=entry, filters=clean)
    except FilterError as exc:
        return json_error(str(exc), 400, allowed_filters=list(entry.filters))
    except (DataError, ValueError, OverflowError, decimal.InvalidOperation) as exc:
        # What the checks above could not foresee and the database refused (a value out of
        # its range): the sentence, never a 500.
        return json_error(f"These filters cannot be counted: {exc}", 400,
                          allowed_filters=list(entry.filters))
    return JsonResponse({"claim_type": entry.key, "rows": rows, "filters": clean,
                         "subtitle": subtitle})
