"""The staff dashboard page: the shell the ES modules in static/js/ fill and keep live."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from jobs import demo, kinds
from jobs.selectors import jobs_recent
from jobs.snapshot import job_snapshot


@login_required
@ensure_csrf_cookie
def dashboard(request: HttpRequest) -> HttpResponse:
    """Staff only; the first job list is rendered in the page so it shows before the socket."""
    if not request.user.is_staff:
        return render(
            request,
            "error.html",
            {"title": "Not allowed",
             "message": "The dashboard is for staff members. Ask an administrator for access."},
            status=403,
        )
    jobs = [job_snapshot(job) for job in jobs_recent(user=request.user)]
    # Only what this user may start is offered (the API refuses the rest with a 403).
    startable = {kind.name for kind in kinds.every() if kind.allows(request.user, None)}
    # The job list's kind filter: the kinds this user may see (demo jobs only where the demo
    # endpoint is on).
    job_kinds = sorted(name for name in startable
                       if name != demo.KIND or settings.JOBS_DEMO_ENDPOINT)
    return render(request, "jobs/dashboard.html", {
        "initial_jobs": jobs,
        "demo_enabled": settings.JOBS_DEMO_ENDPOINT,
        "startable": startable,
        "job_kinds": job_kinds,
    })
