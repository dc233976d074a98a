"""An export's filters as the admin shows them: the card's words, never an error for odd rows."""

from __future__ import annotations

import pytest

from exports.describe import filters_subtitle
from exports.kind import EXPORT
from exports.registry import export_type

FILTERS = {"status": "paid", "created_at__gte": "2024-01-01", "amount__lt": 15000,
           "car__make__in": "Audi,BMW", "police_involved": "false",
           "customer_email__icontains": "@example"}


def test_the_admin_says_what_the_card_says():
    params = {"claim_type": "accident", "filters": FILTERS}
    assert EXPORT.details(params) == (
        "Status: Paid · Created at: from 2024-01-01 · Amount: under 15,000 · "
        "Make: one of Audi, BMW · Police involved: no · Email: contains “@example”")
    assert EXPORT.details(params) == filters_subtitle(export_type("accident"), FILTERS)
    # The subtitle stored when the job started wins (the words of that day).
    assert EXPORT.details({**params, "subtitle": "Status: Paid"}) == "Status: Paid"


def test_no_filters_say_nothing():
    assert EXPORT.details({"claim_type": "theft", "filters": {}}) == ""
    assert EXPORT.details({"claim_type": "theft"}) == ""


@pytest.mark.parametrize("params", [
    {"claim_type": "gone-since", "filters": {"status": "open"}},   # a removed claim type
    {"claim_type": "accident", "filters": {"no__such__field": "x"}},
    {"claim_type": "accident", "filters": "status=open"},          # not an object
    {"claim_type": None, "filters": {"status__in": [1, None, {"a": 1}]}},
    {"filters": {"status": "<script>alert(1)</script>"}},
])
def test_odd_rows_still_give_a_line(params):
    text = EXPORT.details(params)
    assert isinstance(text, str) and text and len(text) <= 200


def test_long_lists_and_values_are_cut():
    params = {"claim_type": "accident",
              "filters": {"car__make__in": ",".join(f"Make{i}" for i in range(1000)),
                          "customer_email__contains": "x" * 500}}
    text = EXPORT.details(params)
    assert "Make0, Make1, Make2, Make3, Make4 and 995 more" in text
    assert len(text) < 200
