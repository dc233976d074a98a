"""docs/openapi.json, pinned to the code: the routes and their methods and scopes, the JOB
fields, and every documented status code produced here with a body valid against it.

The document is kept by hand (the views are plain Django views behind realtime_site.api's
api_view); these tests are what keeps it from drifting. schemathesis against a live daphne
is tests/contract/test_schemathesis.py; the WebSocket is tests/contract/test_asyncapi.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from jsonschema import Draft202012Validator

from jobs.models import Job
from jobs.snapshot import job_snapshot
from tests.campaigns.factories import make_agreement, make_users
from tests.contract import schemas
from tests.factories import make_user
from tests.live import check_answer
from tokens.services import token_create

# In the resolver under /api/ but not in the contract (docs/contract.md, "Not part of the
# contract"), and the catch-all that answers unknown /api/ paths with a JSON 404.
NOT_DOCUMENTED = {"/api/demo-jobs/", "/^api/"}


def api_routes() -> dict[str, object]:
    """OpenAPI path template -> view, for every URL pattern of the resolver under /api/."""
    found = {}

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern):
                route = prefix + str(entry.pattern)
                if route.startswith(("api/", "^api/")):
                    found[schemas.route_to_path(route)] = entry.callback

    walk(get_resolver().url_patterns, "")
    return found


def documented() -> dict[str, set[str]]:
    return {path: {m.upper() for m in item if m in schemas.METHODS}
            for path, item in schemas.openapi()["paths"].items()}


def test_the_document_is_openapi_31_with_valid_schemas_and_references():
    doc = schemas.openapi()
    assert doc["openapi"].startswith("3.1.")
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name
        schemas.validator(f"{schemas.OPENAPI_URI}#/components/schemas/{name}")
    refs = []

    def collect(node):
        if isinstance(node, dict):
            refs.extend(v for k, v in node.items() if k == "$ref")
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)

    collect(doc)
    for ref in refs:  # every local reference points at something
        node = doc
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]


def test_every_api_route_is_documented_with_its_methods_and_vice_versa():
    routes = {path: view for path, view in api_routes().items() if path not in NOT_DOCUMENTED}
    assert set(routes) == set(documented())
    methods = {path: set(view.api_methods) for path, view in routes.items()}
    assert methods == documented()


def test_security_names_the_scope_each_view_requires():
    for path, view in api_routes().items():
        if path in NOT_DOCUMENTED:
            continue
        for method in view.api_methods:
            op = schemas.operation(path, method)
            scope = getattr(view, "api_scope", "public")
            if scope == "public":  # the schema itself
                assert op["security"] == [{}], path
                continue
            tokens = [r["bearerToken"] for r in op["security"] if "bearerToken" in r]
            assert tokens == ([] if scope is None else [[scope]]), (path, method)
            sessions = [r for r in op["security"] if "sessionCookie" in r]
            csrf = method not in ("GET", "HEAD")
            assert sessions == [{"sessionCookie": [], **({"csrfToken": []} if csrf else {})}]


@pytest.mark.django_db
def test_the_job_schema_has_exactly_the_fields_of_job_snapshot():
    job = Job.objects.create(kind="demo", title="t", owner=make_user())
    props = schemas.openapi()["components"]["schemas"]["Job"]
    assert set(props["properties"]) == set(job_snapshot(job)) == set(props["required"])
    asynced = schemas.asyncapi()["components"]["messages"]["update"]["payload"]
    assert asynced["properties"]["job"]["$ref"] == "./openapi.json#/components/schemas/Job"


@pytest.mark.django_db
def test_served_at_api_schema_without_login_as_the_file():
    response = Client().get("/api/schema/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert json.loads(response.content) == schemas.openapi()
    assert Client().head("/api/schema/").status_code == 200
    response = Client(enforce_csrf_checks=True).post("/api/schema/")
    assert response.status_code == 405 and response["Allow"] == "GET, HEAD"


# --- every documented status, produced ----------------------------------------------------
class Tour:
    """Requests through Django's test client; each answer is checked against the document
    (tests.live.check_answer) and its (path template, method, status) recorded."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, str, int]] = set()

    def call(self, client: Client, method: str, path: str, expect: int, body=None, **headers):
        kwargs = {"content_type": "application/json", "data": json.dumps(body)} if body else {}
        response = getattr(client, method.lower())(path, **kwargs, **headers)
        assert response.status_code == expect, (method, path, response.status_code,
                                                response.content[:300])
        content = b"".join(response.streaming_content) if response.streaming else \
            response.content
        seen = check_answer(path.split("?")[0], method, response.status_code,
                            response.get("Content-Type", ""), content)
        assert seen is not None, (method, path, expect, "not documented")
        self.seen.add(seen)
        return response


def _all_documented() -> set[tuple[str, str, int]]:
    return {(path, method, int(status))
            for path, item in schemas.openapi()["paths"].items()
            for method, op in item.items() if method in schemas.METHODS
            for status in op["responses"]}


@pytest.mark.django_db
def test_every_documented_status_code_is_produced_with_a_valid_body(settings, media_root):
    from jobs.runner import runner

    settings.MEDIA_ROOT = str(media_root)
    tour = Tour()
    staff = make_user(staff=True)
    session = Client()
    session.force_login(staff)
    _, full = token_create(user=staff, name="all")
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {full}"}
    agreement = make_agreement(slug="contract-terms")
    make_users(2)

    # The 2xx and the operation's own refusals.
    tour.call(Client(), "GET", "/api/schema/", 200)
    tour.call(Client(), "HEAD", "/api/schema/", 200)
    tour.call(session, "GET", "/api/exports/types/", 200, **bearer)
    tour.call(session, "GET", "/api/exports/accident/count/?status=paid", 200, **bearer)
    tour.call(session, "GET", "/api/exports/accident/count/", 200)
    tour.call(session, "GET", "/api/exports/accident/count/?status=bogus", 400, **bearer)
    tour.call(session, "GET", "/api/exports/boats/count/", 404, **bearer)
    tour.call(session, "GET", "/api/campaigns/agreements/", 200)
    export = tour.call(session, "POST", "/api/exports/", 202, {"claim_type": "accident"},
                       **bearer).json()["job"]["id"]
    campaign = tour.call(session, "POST", "/api/campaigns/", 202,
                         {"agreement": agreement.slug}).json()["job"]["id"]
    tour.call(session, "POST", "/api/campaigns/", 409, {"agreement": agreement.slug})
    _campaign_tour(tour, session, bearer, settings, agreement, campaign)
    tour.call(session, "GET", "/api/jobs/", 200, **bearer)
    tour.call(session, "GET", f"/api/jobs/{export}/", 200, **bearer)
    missing = uuid.uuid4()
    for method, tail in (("GET", ""), ("POST", "cancel/"), ("POST", "resume/"),
                         ("GET", "download/"), ("HEAD", "download/")):
        tour.call(session, method, f"/api/jobs/{missing}/{tail}", 404, **bearer)
    tour.call(session, "POST", f"/api/jobs/{export}/cancel/", 202, **bearer)  # queued: ends
    tour.call(session, "POST", f"/api/jobs/{export}/cancel/", 409, **bearer)
    Job.objects.filter(pk=export).update(resumable=True)
    retry = tour.call(session, "POST", f"/api/jobs/{export}/resume/", 202,
                      **bearer).json()["job"]["id"]
    tour.call(session, "POST", f"/api/jobs/{export}/resume/", 409, **bearer)  # resumed once

    stored = default_storage.save(f"exports/{uuid.uuid4()}/a.csv", ContentFile(b"id\n1\n"))
    done = Job.objects.create(kind="demo", title="done", owner=staff, status="succeeded",
                              result_file=stored, result_name="a.csv",
                              expires_at=timezone.now() + timedelta(hours=1))
    expired = Job.objects.create(kind="demo", title="old", owner=staff, status="succeeded",
                                 result_file=done.result_file, result_name="a.csv",
                                 expires_at=timezone.now() - timedelta(minutes=1))
    for method in ("GET", "HEAD"):
        tour.call(session, method, f"/api/jobs/{done.pk}/download/", 200, **bearer)
        tour.call(session, method, f"/api/jobs/{expired.pk}/download/", 410, **bearer)

    tour.call(session, "GET", "/api/tokens/", 200)
    made = tour.call(session, "POST", "/api/tokens/", 201, {"name": "x", "scopes": ["read"]})
    tour.call(session, "POST", "/api/tokens/", 400, {"scopes": ["everything"]})
    tour.call(session, "POST", f"/api/tokens/{made.json()['access_token']['id']}/revoke/", 200)
    tour.call(session, "POST", "/api/tokens/999999/revoke/", 404)

    # Too many active jobs (the queued campaign and retry count): 429; shutting down: 503.
    settings.JOBS_MAX_ACTIVE_PER_USER = 2
    Job.objects.filter(pk=retry).update(status="cancelled", resumable=True)
    Job.objects.create(kind="demo", title="busy", owner=staff)
    tour.call(session, "POST", "/api/exports/", 429, {"claim_type": "accident"}, **bearer)
    other = make_agreement(slug="contract-other").slug  # the first one's campaign is queued
    tour.call(session, "POST", "/api/campaigns/", 429, {"agreement": other})
    tour.call(session, "POST", f"/api/jobs/{retry}/resume/", 429, **bearer)
    settings.JOBS_MAX_ACTIVE_PER_USER = 5
    Job.objects.filter(owner=staff, status="queued").update(status="cancelled")
    runner.accepting = False
    try:
        tour.call(session, "POST", "/api/exports/", 503, {"claim_type": "accident"}, **bearer)
        tour.call(session, "POST", "/api/campaigns/", 503, {"agreement": other})
        tour.call(session, "POST", f"/api/jobs/{retry}/resume/", 503, **bearer)
    finally:
        runner.accepting = True

    # The refusals every operation shares: 400 (a token in the URL), 401, 403.
    _, start_only = token_create(user=staff, name="start", scopes=["start"])
    _, read_only = token_create(user=staff, name="read", scopes=["read"])
    job_path = {"job_id": str(done.pk), "token_id": "1", "claim_type": "accident"}
    for path, item in schemas.openapi()["paths"].items():
        concrete = path.format(**job_path)
        for method, op in item.items():
            if method not in schemas.METHODS:
                continue
            tour.call(Client(), method, concrete + "?access_token=x", 400)
            if op["security"] == [{}]:  # the schema: only a refused token is a 401 there
                tour.call(Client(), method, concrete, 401, HTTP_AUTHORIZATION="Bearer nope")
                continue
            tour.call(Client(), method, concrete, 401)
            scope = [r["bearerToken"] for r in op["security"] if "bearerToken" in r]
            lacking = read_only if scope and scope[0] != ["read"] else start_only
            tour.call(Client(), method, concrete, 403, HTTP_AUTHORIZATION=f"Bearer {lacking}")

    assert _all_documented() - tour.seen == set()


def _campaign_tour(tour, session, bearer, settings, agreement, campaign) -> None:
    """Before sending (preview, a test to oneself) and after (detail, failed, CSV)."""
    from campaigns.models import Recipient
    from realtime_site.mail import transport_override
    from tests.services import free_port

    tour.call(session, "GET", f"/api/campaigns/preview/?agreement={agreement.slug}", 200,
              **bearer)
    tour.call(session, "GET", "/api/campaigns/preview/?agreement=nope", 400, **bearer)
    tour.call(session, "POST", "/api/campaigns/test/", 200, {"agreement": agreement.slug},
              **bearer)
    tour.call(session, "POST", "/api/campaigns/test/", 400, {"agreement": "nope"}, **bearer)
    unreachable = transport_override("django.core.mail.backends.smtp.EmailBackend",
                                     {"host": "127.0.0.1", "port": free_port()}, timeout=5)
    with unreachable:
        tour.call(session, "POST", "/api/campaigns/test/", 502, {"agreement": agreement.pk})
    settings.CAMPAIGN_TEST_SENDS_PER_HOUR = 2
    tour.call(session, "POST", "/api/campaigns/test/", 429, {"agreement": agreement.pk})
    settings.CAMPAIGN_TEST_SENDS_PER_HOUR = 5

    Recipient.objects.create(job_id=campaign, email="=x@example.com", status="failed",
                             error="550 5.1.1 No such user", attempts=1)
    tour.call(session, "GET", f"/api/campaigns/{campaign}/", 200, **bearer)
    tour.call(session, "GET", f"/api/campaigns/{campaign}/failed/?page=1", 200, **bearer)
    tour.call(session, "GET", f"/api/campaigns/{campaign}/failed/?page=0", 400, **bearer)
    tour.call(session, "GET", f"/api/campaigns/{campaign}/failed.csv", 200, **bearer)
    for tail in ("", "failed/", "failed.csv"):
        tour.call(session, "GET", f"/api/campaigns/{uuid.uuid4()}/{tail}", 404, **bearer)


def test_the_claim_types_are_the_registrys():
    from exports.registry import EXPORT_TYPES

    body = schemas.openapi()["paths"]["/api/exports/"]["post"]["requestBody"]
    claim_type = body["content"]["application/json"]["schema"]["properties"]["claim_type"]
    assert set(claim_type["enum"]) == set(EXPORT_TYPES)


def test_the_job_list_filters_name_the_codes_kinds_and_statuses():
    from jobs import kinds, list_query
    from jobs.models import JobStatus

    op = schemas.openapi()["paths"]["/api/jobs/"]["get"]
    params = {param["name"]: param["schema"] for param in op["parameters"]}

    def listed(pattern: str) -> set[str]:  # "^(a|b)(,(a|b))*$" -> {"a", "b"}
        return set(pattern.split("(")[1].split(")")[0].split("|"))

    assert listed(params["kind"]["pattern"]) == {kind.name for kind in kinds.every()}
    assert listed(params["status"]["pattern"]) == set(JobStatus.values)
    assert params["limit"]["maximum"] == list_query.MAX_LIMIT
