"""GET /api/exports/<claim_type>/count/: the dashboard's live count, with the checks of a start.

Good filters count what the export would write; malformed, hostile and foreign input is a 4xx
JSON sentence, never a 500, never a count of a claim type the caller may not export.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from exports.models import AccidentClaim
from jobs.models import Job
from tests.exports.factories import make_accidents, make_car
from tests.factories import PASSWORD, make_user
from tokens.services import token_create

pytestmark = pytest.mark.django_db  # one transaction per test: on_commit never starts a thread

URL = "/api/exports/accident/count/"


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        assert client.login(username=user.username, password=PASSWORD)
    return client


@pytest.fixture
def claims():
    """12 paid, 30 open accident claims; the paid ones on an Audi, 2 of them in 2025."""
    make_accidents(30, status="open")
    paid = make_accidents(12, car=make_car(make="Audi"), status="paid")
    AccidentClaim.objects.filter(pk__in=[c.pk for c in paid[:2]]).update(
        created_at=datetime(2025, 6, 1, 12, tzinfo=UTC))
    return paid


@pytest.mark.parametrize(("query", "rows"), [
    ("", 42),
    ("?status=paid", 12),
    ("?status__in=paid,open", 42),
    ("?car__make__icontains=aud", 12),
    ("?status=paid&created_at__lt=2026-01-01", 2),
    ("?created_at__gte=2026-01-01&created_at__lt=2027-01-01", 40),
    ("?police_involved=true", 21),  # what a query string can say (BooleanField wants "True")
    ("?police_involved=false&status=paid", 6),
    ("?amount__gte=1240.56", 42 - 6 - 6),  # 1234.56 + i: i >= 6 in each batch
    ("?status=rejected", 0),
])
def test_counts_what_the_export_would_write(claims, query, rows):
    response = _client(make_user(staff=True)).get(URL + query)
    assert response.status_code == 200, response.content
    data = response.json()
    assert data["rows"] == rows and data["claim_type"] == "accident"
    assert (data["subtitle"] is None) == (query == "")


def test_the_answer_says_the_filters_in_words(claims):
    response = _client(make_user(staff=True)).get(
        URL + "?status=paid&created_at__gte=2026-01-01&created_at__lt=2026-04-01"
              "&car__make__icontains=aud&police_involved=true")
    data = response.json()
    assert data["filters"] == {"status": "paid", "created_at__gte": "2026-01-01",
                               "created_at__lt": "2026-04-01", "car__make__icontains": "aud",
                               "police_involved": "true"}
    # An exclusive end at midnight reads as the inclusive last day, as the date picker meant.
    assert data["subtitle"] == ("Status: Paid · Created at: from 2026-01-01 · Created at: to "
                                "2026-03-31 · Make: contains “aud” · Police involved: yes")


def test_a_count_matches_the_export_it_describes(claims):
    """The same filters, counted then started: the job's subtitle is the count's."""
    client = _client(make_user(staff=True))
    counted = client.get(URL + "?status=paid&amount__lte=1240").json()
    response = client.post("/api/exports/", {"claim_type": "accident", "filters": {
        "status": "paid", "amount__lte": "1240"}}, content_type="application/json")
    assert response.status_code == 202, response.content
    job = response.json()["job"]
    assert job["subtitle"] == counted["subtitle"] == "Status: Paid · Amount: at most 1,240"
    assert counted["rows"] == AccidentClaim.objects.filter(
        status="paid", amount__lte=Decimal("1240")).count() == 6
    unfiltered = client.post("/api/exports/", {"claim_type": "accident"},
                             content_type="application/json").json()["job"]
    assert unfiltered["subtitle"] is None


@pytest.mark.parametrize("query", [
    "?customer_name=x",  # not in the allow-list
    "?status=paid&status=open",  # given twice
    "?status=bogus",  # not a choice
    "?status__year=2020",  # a date lookup on text
    "?created_at__gte=soon",
    "?created_at__year=99999",
    "?amount__gte=lots",
    "?amount__gte=NaN",
    "?amount__gte=Infinity",
    "?car__year=99999999999999999999999",  # beyond any integer column
    "?car__year__in=" + ",".join(["2020"] * 1001),  # too many values
    "?police_involved=maybe",
    "?status__isnull=perhaps",
    "?customer_email__icontains=a%00b",  # NUL: PostgreSQL refuses it in text
    "?car__make=%00",
    "?car__make__in=a,%00",
    "?password=x",
    "?status__regex=.*",  # a lookup outside the allowed ones
    "?car__owner__username=admin",  # a path through a relation not allowed
    "?__class__=x",
    "?=x",
])
def test_malformed_and_hostile_filters_are_a_400_sentence(claims, query):
    response = _client(make_user(staff=True)).get(URL + query)
    assert response.status_code == 400, (query, response.content)
    data = response.json()
    assert isinstance(data["error"], str) and len(data["error"]) > 10
    assert data["allowed_filters"][0] == "status"
    assert "rows" not in data


def test_a_huge_query_is_refused_not_a_500(claims):
    query = "&".join(f"f{n}=x" for n in range(1500))  # past DATA_UPLOAD_MAX_NUMBER_FIELDS
    response = _client(make_user(staff=True)).get(f"{URL}?{query}")
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize("claim_type", ["boats", "types", "ACCIDENT", "%2e%2e", "x" * 300])
def test_an_unknown_claim_type_is_a_404_with_the_choices(claim_type):
    response = _client(make_user(staff=True)).get(f"/api/exports/{claim_type}/count/")
    assert response.status_code == 404
    data = response.json()
    assert data["error"] and data["choices"] == ["accident", "theft", "warranty"]
    assert len(data["error"]) < 100  # a long name is not echoed whole


def test_who_may_count(claims):
    assert _client().get(URL).status_code == 401
    response = _client(make_user(staff=False)).get(URL)
    assert response.status_code == 403 and "rows" not in response.json()
    no_rights = make_user(staff=True, roles=())
    response = _client(no_rights).get(URL + "?status=paid")
    assert response.status_code == 403 and "export accident claims" in response.json()["error"]
    # Thefts only: accident claims stay closed, and the 404's choices name only thefts.
    thief = make_user(staff=True, roles=())
    thief.user_permissions.add(*Permission.objects.filter(
        codename__in=["view_theftclaim", "export_theftclaim"]))
    client = _client(thief)
    assert client.get(URL).status_code == 403
    assert client.get("/api/exports/theft/count/").json()["rows"] == 0
    assert client.get("/api/exports/boats/count/").json()["choices"] == ["theft"]
    assert _client(make_user(staff=True)).post(URL).status_code == 405


def test_a_token_needs_read_and_a_token_in_the_url_is_refused(claims):
    staff = make_user(staff=True)
    _, read = token_create(user=staff, name="r", scopes=["read"])
    _, start = token_create(user=staff, name="s", scopes=["start"])
    client = Client()
    answer = client.get(URL + "?status=paid", HTTP_AUTHORIZATION=f"Bearer {read}")
    assert answer.status_code == 200 and answer.json()["rows"] == 12
    answer = client.get(URL, HTTP_AUTHORIZATION=f"Bearer {start}")
    assert answer.status_code == 403 and answer.json()["missing_scope"] == "read"
    assert client.get(URL + f"?access_token={read}").status_code == 400


def test_counting_creates_nothing(claims):
    _client(make_user(staff=True)).get(URL + "?status=paid")
    assert not Job.objects.exists()


def test_types_describe_the_filters_each_type_allows():
    data = _client(make_user(staff=True)).get("/api/exports/types/").json()
    by_key = {t["key"]: {f["field"]: f for f in t["filters"]} for t in data["types"]}
    accident = by_key["accident"]
    assert list(accident) == ["status", "created_at", "amount", "car__make", "car__year",
                              "customer_email", "occurred_at", "police_involved"]
    assert accident["status"]["kind"] == "choice"
    assert {"value": "paid", "label": "Paid"} in accident["status"]["choices"]
    assert accident["created_at"] == {"field": "created_at", "label": "Created at",
                                      "kind": "date"}
    assert accident["car__make"] == {"field": "car__make", "label": "Make", "kind": "text"}
    assert accident["amount"]["kind"] == accident["car__year"]["kind"] == "number"
    assert accident["police_involved"]["kind"] == "bool"
    assert by_key["warranty"]["purchase_date"]["kind"] == "date"
    assert by_key["warranty"]["mileage_km"]["label"] == "Mileage (km)"
    assert by_key["theft"]["recovered"]["kind"] == "bool"
