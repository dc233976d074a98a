"""The job HTTP API of docs/contract.md: list, detail, cancel, resume, download."""

from __future__ import annotations

import mimetypes
from functools import partial
from typing import Any
from urllib.parse import quote

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.files.storage import default_storage
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils import timezone
from django.utils.http import content_disposition_header

from jobs import demo
from jobs.list_query import parse_list_query
from jobs.models import Job, JobStatus
from jobs.selectors import job_get_visible, jobs_page
from jobs.services import (
    JobAlreadyFinished,
    JobNotResumable,
    job_cancel,
    job_resume,
)
from jobs.snapshot import job_snapshot
from realtime_site.api import ApiError, BadRequest, api_view, json_error, request_data

DOWNLOAD_CHUNK = 256 * 1024


def _visible(request: HttpRequest, job_id: Any) -> Job:
    """The job if the caller may see it; else a 404 (never 403: job ids leak nothing)."""
    job = job_get_visible(user=request.user, job_id=job_id)
    if job is None:
        raise ApiError("No such job.", 404)
    return job


@api_view(methods=("GET",))
def job_list(request: HttpRequest) -> HttpResponse:
    """The caller's own jobs, newest first: one page, filtered by kind, status and title
    (jobs/list_query.py); without parameters the JOBS_RECENT_LIMIT newest, as before."""
    query = parse_list_query(request.GET, user=request.user)
    page = jobs_page(user=request.user, limit=query.limit, kinds_in=query.kinds_in,
                     statuses=query.statuses, q=query.q, before=query.before)
    return JsonResponse({"jobs": [job_snapshot(job) for job in page.jobs],
                         "next_before": page.next_before})


@api_view(methods=("GET",))
def job_detail(request: HttpRequest, job_id: Any) -> HttpResponse:
    """One job; 404 when the caller may not see it."""
    job = _visible(request, job_id)
    return JsonResponse({"job": job_snapshot(job)})


@api_view(methods=("POST",), scope="cancel")
def job_cancel_view(request: HttpRequest, job_id: Any) -> HttpResponse:
    """Ask a job to stop; 409 when it already finished."""
    job = _visible(request, job_id)
    try:
        job = job_cancel(job_id=job.pk)
    except JobAlreadyFinished as exc:
        return json_error(str(exc), 409, job=job_snapshot(job))
    return JsonResponse({"job": job_snapshot(job)}, status=202)


@api_view(methods=("POST",), staff=True, scope="start")
def job_resume_view(request: HttpRequest, job_id: Any) -> HttpResponse:
    """Start a new job continuing (campaign) or retrying (export) this one; 409 when it cannot."""
    job = _visible(request, job_id)
    try:
        new_job = job_resume(job_id=job.pk, user_id=request.user.pk)
    except JobNotResumable as exc:
        return json_error(str(exc), 409, job=job_snapshot(job))
    return JsonResponse({"job": job_snapshot(new_job), "resumed_from": str(job.pk)}, status=202)


def _chunks(name: str):
    # docs/architecture.md, trap 6: FileResponse over a file under daphne buffers the whole
    # file; read in fixed chunks so memory stays flat whatever the size.
    with default_storage.open(name, "rb") as handle:
        while chunk := handle.read(DOWNLOAD_CHUNK):
            yield chunk


async def _achunks(name: str):
    # Under ASGI a *sync* iterator is no better: StreamingHttpResponse.__aiter__ consumes it
    # with sync_to_async(list), i.e. the whole file in memory (Django 5.2 http/response.py).
    # An async generator is streamed chunk by chunk; the reads run in a worker thread.
    read = partial(sync_to_async, thread_sensitive=False)
    handle = await read(default_storage.open)(name, "rb")
    try:
        while chunk := await read(handle.read)(DOWNLOAD_CHUNK):
            yield chunk
    finally:
        await read(handle.close)()


@api_view(methods=("GET", "HEAD"))
def job_download(request: HttpRequest, job_id: Any) -> HttpResponse:
    """The job's file: 404 when not the caller's or not ready, 410 when expired."""
    job = job_get_visible(user=request.user, job_id=job_id)
    if job is None or job.status != JobStatus.SUCCEEDED or not job.result_file:
        return json_error("No such file: the job is not yours or has no file (yet).", 404)
    if job.expires_at and job.expires_at <= timezone.now():
        return json_error("This file has expired; run the export again.", 410)
    if not default_storage.exists(job.result_file):
        return json_error("This file is gone; run the export again.", 410)
    filename = job.result_name or job.result_file.rsplit("/", 1)[-1]
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    accel = settings.EXPORT_X_ACCEL_REDIRECT
    if accel:
        response = HttpResponse(content_type=content_type)
        # nginx decodes the header's URI: encode the storage path (non-ASCII names).
        response["X-Accel-Redirect"] = accel.rstrip("/") + "/" + quote(job.result_file.lstrip("/"))
    else:
        if request.method == "HEAD":
            body = iter(())
        elif isinstance(request, ASGIRequest):
            body = _achunks(job.result_file)
        else:
            body = _chunks(job.result_file)
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Length"] = str(default_storage.size(job.result_file))
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@api_view(methods=("POST",), staff=True, scope="start")
def demo_job_start(request: HttpRequest) -> HttpResponse:
    """Start the demonstration job (only with JOBS_DEMO_ENDPOINT on)."""
    if not settings.JOBS_DEMO_ENDPOINT:
        return json_error("Not found.", 404)
    try:
        data = request_data(request)
        steps = int(data.get("steps", 30))
        delay = float(data.get("delay", 0.05))
        fail_every = int(data.get("fail_every", 0) or 0)
        crash_at = data.get("crash_at")
        crash_at = int(crash_at) if crash_at not in (None, "") else None
    except BadRequest as exc:
        return json_error(str(exc), 400)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int() of JSON 1e400
        return json_error("steps, fail_every and crash_at must be integers, delay a number.", 400)
    try:
        job = demo.demo_start(owner_id=request.user.pk, steps=steps, delay=delay,
                              fail_every=fail_every, crash_at=crash_at,
                              stamp=bool(data.get("stamp")))
    except ValueError as exc:
        return json_error(str(exc), 400)
    return JsonResponse({"job": job_snapshot(job)}, status=202)
