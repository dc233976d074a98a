"""An export's filters as the admin shows them: readable, and never an error for odd rows."""

from __future__ import annotations

import pytest

from exports.filter_text import filters_text
from exports.kind import EXPORT


def test_the_lookups_read_as_a_sentence():
    params = {"claim_type": "accident", "filters": {
        "status": "paid", "created_at__gte": "2024-01-01", "amount__lt": 15000,
        "car__make__in": "Audi,BMW", "police_involved__isnull": "false",
        "customer_email__icontains": "@example"}}
    assert filters_text(params) == (
        "status = paid, created at ≥ 2024-01-01, amount < 15,000, car make in (Audi, BMW), "
        "police involved is not empty, customer email contains (any case) @example")


def test_no_filters_say_nothing():
    assert filters_text({"claim_type": "theft", "filters": {}}) == ""
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
    assert isinstance(text, str) and text


def test_long_lists_and_values_are_cut():
    params = {"claim_type": "accident",
              "filters": {"car__make__in": ",".join(f"Make{i}" for i in range(1000)),
                          "customer_email__contains": "x" * 500}}
    text = filters_text(params)
    assert "Make0, Make1, Make2, Make3, Make4 and 995 more" in text
    assert len(text) < 200
