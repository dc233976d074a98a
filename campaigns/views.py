"""Campaign API (staff) and the acceptance pages reached from a reminder's personal link."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from campaigns.detail import BadPage, campaign_detail, campaign_visible, failed_page
from campaigns.links import LinkExpired, LinkInvalid, link_read
from campaigns.models import Acceptance, Agreement
from campaigns.permissions import REFUSAL, may_send_reminders
from campaigns.preview import (
    NoAddress,
    TestSendFailed,
    TestSendsExhausted,
    audience_preview,
    reminder_test_send,
)
from campaigns.selectors import agreement_resolve, agreements_with_unsigned
from campaigns.services import (
    CampaignAlreadyRunning,
    RecentlyReminded,
    acceptance_record,
    campaign_start,
)
from campaigns.summary import failures_csv
from jobs.snapshot import job_snapshot
from realtime_site.api import api_view, flag, json_error, request_data


@api_view(methods=("POST",), staff=True, scope="start")
def campaign_create(request: HttpRequest) -> HttpResponse:
    """Start a reminder campaign for one agreement (id or slug)."""
    if not may_send_reminders(request.user):
        return json_error(REFUSAL, 403)
    data = request_data(request)
    agreement = agreement_resolve(data.get("agreement"))
    if agreement is None:
        choices = list(Agreement.objects.order_by("slug").values_list("slug", flat=True)[:50])
        return json_error("Unknown or missing agreement: send its id or slug as `agreement`.",
                          400, choices=choices)
    include_recent = flag(data, "include_recent")
    try:
        job = campaign_start(owner_id=request.user.pk, agreement_id=agreement.pk,
                             include_recent=include_recent)
    except CampaignAlreadyRunning as exc:
        return json_error(str(exc), 409)
    except RecentlyReminded as exc:
        return json_error(str(exc), 409, **_audience_fields(exc.audience))
    return JsonResponse({"job": job_snapshot(job), **_audience_fields(job.audience)},
                        status=202)


def _audience_fields(audience: dict) -> dict:
    return {key: audience[key] for key in ("recipients", "skipped_recent", "last_campaign",
                                           "resend_after")}


@api_view(methods=("GET",), staff=True)
def agreement_list(request: HttpRequest) -> HttpResponse:
    """Agreements with how many users have not accepted them (the dashboard's picker)."""
    if not may_send_reminders(request.user):
        return json_error(REFUSAL, 403)
    return JsonResponse({"agreements": agreements_with_unsigned()})


def _agreement_or_400(value) -> tuple[Agreement | None, HttpResponse | None]:
    agreement = agreement_resolve(value)
    if agreement is not None:
        return agreement, None
    choices = list(Agreement.objects.order_by("slug").values_list("slug", flat=True)[:50])
    return None, json_error("Unknown or missing agreement: send its id or slug as "
                            "`agreement`.", 400, choices=choices)


@api_view(methods=("GET",), staff=True)
def campaign_preview(request: HttpRequest) -> HttpResponse:
    """What "Send reminders" would do now (?agreement=, ?include_recent=): the audience, the
    last campaign, and one recipient's reminder as it would be sent."""
    if not may_send_reminders(request.user):
        return json_error(REFUSAL, 403)
    agreement, refusal = _agreement_or_400(request.GET.get("agreement"))
    if refusal is not None:
        return refusal
    include_recent = flag(request.GET, "include_recent")
    return JsonResponse(audience_preview(agreement=agreement, viewer=request.user,
                                         include_recent=include_recent))


@api_view(methods=("POST",), staff=True, scope="start")
def campaign_test(request: HttpRequest) -> HttpResponse:
    """Mail the preview's reminder to the caller's own address (rate-limited)."""
    if not may_send_reminders(request.user):
        return json_error(REFUSAL, 403)
    agreement, refusal = _agreement_or_400(request_data(request).get("agreement"))
    if refusal is not None:
        return refusal
    try:
        return JsonResponse(reminder_test_send(agreement=agreement, user=request.user))
    except NoAddress as exc:
        return json_error(str(exc), 400)
    except TestSendsExhausted as exc:
        response = json_error(str(exc), 429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    except TestSendFailed as exc:
        return json_error(f"The mail server did not take the test: {exc}", 502)


def _campaign_or_404(request: HttpRequest, job_id):
    campaign = campaign_visible(user=request.user, job_id=job_id)
    if campaign is None:
        return None, json_error("No such campaign.", 404)
    return campaign, None


@api_view(methods=("GET",), staff=True)
def campaign_detail_view(request: HttpRequest, job_id) -> HttpResponse:
    """One campaign's figures from its recipient rows; 404 unless the caller may see it."""
    campaign, missing = _campaign_or_404(request, job_id)
    if missing is not None:
        return missing
    return JsonResponse({"campaign": campaign_detail(campaign)})


@api_view(methods=("GET",), staff=True)
def campaign_failed(request: HttpRequest, job_id) -> HttpResponse:
    """One page of a campaign's failed recipients (?page=, ?per_page= up to 100)."""
    campaign, missing = _campaign_or_404(request, job_id)
    if missing is not None:
        return missing
    try:
        page = failed_page(campaign, page=request.GET.get("page"),
                           per_page=request.GET.get("per_page"))
    except BadPage as exc:
        return json_error(str(exc), 400)
    return JsonResponse(page)


@api_view(methods=("GET",), staff=True)
def campaign_failed_csv(request: HttpRequest, job_id) -> HttpResponse:
    """Every failed recipient of a campaign as a CSV download."""
    campaign, missing = _campaign_or_404(request, job_id)
    if missing is not None:
        return missing
    response = HttpResponse(failures_csv(job_id=campaign.pk),
                            content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="failed-{campaign.pk}.csv"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _problem(request: HttpRequest, status: int, heading: str, message: str) -> HttpResponse:
    return render(request, "campaigns/link_result.html",
                  {"heading": heading, "message": message}, status=status)


@never_cache
@csrf_protect
@require_http_methods(["GET", "POST"])
def accept(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the agreement; POST accepts it. The signed link is the credential."""
    try:
        claim = link_read(token)
    except LinkExpired:
        return _problem(request, 410, "This link has expired",
                        "Reminder links are valid for a limited time. The next reminder will "
                        "bring a fresh one, or accept after logging in.")
    except LinkInvalid:
        return _problem(request, 400, "This link is not valid",
                        "It may have been cut or changed. Open it again from the email, "
                        "exactly as it was sent.")
    person = get_user_model().objects.filter(pk=claim.user_id, is_active=True).first()
    agreement = Agreement.objects.filter(pk=claim.agreement_id).first()
    if person is None or agreement is None:
        return _problem(request, 404, "This link is no longer valid",
                        "The account or the agreement it was made for no longer exists.")
    if request.user.is_authenticated and request.user.pk != person.pk:
        return _problem(request, 403, "This link belongs to another account",
                        "You are logged in as someone else. Log out, or use the link from "
                        "your own email.")
    done = Acceptance.objects.filter(user=person, agreement=agreement).first()
    if done is not None:
        return _problem(request, 200, "Already accepted",
                        f"You accepted the {agreement.title} on "
                        f"{done.accepted_at:%Y-%m-%d %H:%M} UTC. Nothing more to do.")
    if claim.version != agreement.version:
        return _problem(request, 410, "This link is for an older version",
                        f"The {agreement.title} changed since this email was sent "
                        f"(now version {agreement.version}). A new reminder will follow.")
    if request.method == "POST":
        acceptance_record(user_id=person.pk, agreement_id=agreement.pk, version=agreement.version)
        return _problem(request, 200, "Thank you",
                        f"You accepted the {agreement.title} (version {agreement.version}).")
    return render(request, "campaigns/agreement.html", {"agreement": agreement, "person": person})
