"""The job admin: who ran what, how far it got; cancel and resume from the changelist."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.numbers import fmt_number
from jobs.selectors import jobs_visible_to
from jobs.services import JobAlreadyFinished, JobNotResumable, job_cancel, job_resume
from realtime_site.api import ApiError


class KindFilter(admin.SimpleListFilter):
    """Kinds that exist in the table (export, campaign, demo...), not a fixed list."""

    title = "kind"
    parameter_name = "kind"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        kinds = model_admin.get_queryset(request).order_by("kind").values_list("kind", flat=True)
        return [(kind, kind.capitalize()) for kind in kinds.distinct()]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Job]) -> QuerySet[Job]:
        return queryset.filter(kind=self.value()) if self.value() else queryset


def _details(job: Job) -> str:
    kind = kinds.find(job.kind)
    return kind.details(job.params) if kind is not None else ""


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    # Four narrow columns between the admin's navigation and the filters: the list fits
    # 1280 px (about 630 px are left for it). The kind, the owner and what the job works on
    # (an export's filters, readable) go under the title, which wraps; the end time is in
    # the "when" column (tests/browser/test_admin_jobs.py measures the overflow). The owner
    # filter in the sidebar replaces sorting by owner.
    list_display = ["job", "status_badge", "progress", "when"]
    list_display_links = ["job"]
    list_filter = [KindFilter, "status", ("owner", admin.RelatedOnlyFieldListFilter),
                   "created_at"]
    search_fields = ["title", "owner__username", "message", "error"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    actions = ["cancel_jobs", "resume_jobs"]
    fieldsets = [
        (None, {"fields": ["id", "title", "kind", "details", "owner", "status", "message",
                           "error"]}),
        # The counts as the list writes them ("1,601 / 1,601"), not the raw fields ("1601").
        ("Progress", {"fields": ["progress", "version", "download"]}),
        ("Timing", {"fields": ["created_at", "started_at", "finished_at", "heartbeat_at",
                               "worker_id", "expires_at"]}),
        ("Details", {"classes": ["collapse"],
                     "fields": ["params", "result", "result_file", "result_name",
                                "cancel_requested", "resumable", "resumed_from"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Job]:
        """Staff see their own jobs, superusers every job (as in the API)."""
        return jobs_visible_to(user=request.user).select_related("owner")

    # Read-only: a job changes only through its runner and the services.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return request.user.is_superuser and (obj is None or obj.is_terminal)

    def has_view_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_staff

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> list[str]:
        return [f for fieldset in self.fieldsets for f in fieldset[1]["fields"]]

    @admin.display(description="job", ordering="title")
    def job(self, job: Job) -> str:
        details = _details(job)
        return format_html(
            '<span class="job-cell"><span class="job-cell-title">{}</span>'
            '<span class="job-cell-meta">{} · {}{}{}</span></span>',
            job.title, job.kind, job.owner.get_username(), " · " if details else "", details)

    @admin.display(description="works on")
    def details(self, job: Job) -> str:
        return _details(job) or "–"

    @admin.display(description="when", ordering="created_at")
    def when(self, job: Job) -> str:
        """Created, and when it ended, on the server's clock (DJANGO_TIME_ZONE)."""
        created = timezone.localtime(job.created_at)
        line = f"{created:%Y-%m-%d %H:%M}"  # may wrap between the date and the time
        if job.finished_at is None:
            return line
        finished = timezone.localtime(job.finished_at)
        same_day = finished.date() == created.date()
        return format_html('{}<br><span class="job-cell-meta">ended {}</span>', line,
                           f"{finished:%H:%M}" if same_day else f"{finished:%Y-%m-%d %H:%M}")

    @admin.display(description="status", ordering="status")
    def status_badge(self, job: Job) -> str:
        colours = {"succeeded": "#1c7c4a", "failed": "#b42318", "interrupted": "#9a5b00",
                   "running": "#2f5fd0"}
        return format_html('<strong style="color:{}">{}</strong>',
                           colours.get(job.status, "inherit"), job.get_status_display())

    @admin.display(description="progress")
    def progress(self, job: Job) -> str:
        total = "?" if job.total is None else fmt_number(job.total)
        failed = f", {fmt_number(job.failed)} failed" if job.failed else ""
        return f"{fmt_number(job.done)} / {total}{failed}"

    @admin.display(description="file")
    def download(self, job: Job) -> str:
        if job.status != JobStatus.SUCCEEDED or not job.result_file:
            return "–"
        return format_html('<a href="{}">{}</a>', reverse("jobs:download", args=[job.pk]),
                           job.result_name or "Download")

    @admin.action(description="Cancel the selected jobs")
    def cancel_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        asked = skipped = 0
        for job in queryset.active():
            try:
                job_cancel(job_id=job.pk)
                asked += 1
            except JobAlreadyFinished:
                skipped += 1
        skipped += queryset.terminal().count()
        if asked:
            self.message_user(request, f"Asked {fmt_number(asked)} job(s) to stop.",
                              messages.SUCCESS)
        if skipped:
            self.message_user(request, f"{fmt_number(skipped)} job(s) had already finished.",
                              messages.WARNING)

    @admin.action(description="Resume / retry the selected jobs")
    def resume_jobs(self, request: HttpRequest, queryset: QuerySet[Job]) -> None:
        started, refused = [], []
        for job in queryset:
            if not kinds.allows(request.user, job):
                refused.append(f"{job.title}: you may not start this kind of job.")
                continue
            try:
                started.append(job_resume(job_id=job.pk, user_id=request.user.pk))
            except (JobNotResumable, ApiError) as exc:
                refused.append(f"{job.title}: {exc}")
        if started:
            self.message_user(
                request,
                format_html('Started {} job(s); follow them on <a href="{}">the dashboard</a>.',
                            fmt_number(len(started)), reverse("dashboard")),
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)
