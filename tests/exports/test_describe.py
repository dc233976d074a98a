"""Filters in words (exports/describe.py): the job's subtitle and the file-name piece."""

from __future__ import annotations

import pytest

from exports.describe import MAX_FILE_PART, filters_file_part, filters_subtitle
from exports.filters import FilterError
from exports.registry import export_type

ACCIDENT, WARRANTY = export_type("accident"), export_type("warranty")


@pytest.mark.parametrize(("filters", "words"), [
    ({"status__exact": "in_review"}, "Status: In review"),
    ({"status__in": "open,paid"}, "Status: one of Open, Paid"),
    ({"car__year__in": list(range(2010, 2018))},
     "Year: one of 2010, 2011, 2012, 2013, 2014 and 3 more"),
    ({"amount__gt": "10.5", "amount__lt": 99}, "Amount: over 10.5 · Amount: under 99"),
    ({"created_at__lt": "2026-03-01 12:30"}, "Created at: before 2026-03-01 12:30"),
    ({"created_at__lt": "2026-03-01"}, "Created at: to 2026-02-28"),
    ({"created_at__gte": "2026-03-01T00:00:00+00:00"}, "Created at: from 2026-03-01"),
    ({"created_at__year": "2026"}, "Created at: year 2026"),
    ({"occurred_at__isnull": "false"}, "Occurred at: not empty"),
    ({"police_involved": False}, "Police involved: no"),
    ({"customer_email__istartswith": "ab"}, "Email: starts with “ab”"),
    ({"customer_email__icontains": "x" * 60}, f"Email: contains “{'x' * 39}…”"),
])
def test_subtitles(filters, words):
    assert filters_subtitle(ACCIDENT, filters) == words


def test_date_fields_read_an_exclusive_end_as_the_last_day():
    assert filters_subtitle(WARRANTY, {"purchase_date__gte": "2024-01-01",
                                       "purchase_date__lt": "2024-03-01"}) == (
        "Purchase date: from 2024-01-01 · Purchase date: to 2024-02-29")
    assert filters_subtitle(WARRANTY, {"mileage_km__lte": 5000}) == "Mileage (km): at most 5000"


def test_midnight_is_the_sites(settings):
    settings.TIME_ZONE = "Europe/Paris"  # the admin's date filter sends aware local midnights
    assert filters_subtitle(ACCIDENT, {"created_at__gte": "2026-03-29 00:00:00+01:00",
                                       "created_at__lt": "2026-03-30 00:00:00+02:00"}) == (
        "Created at: from 2026-03-29 · Created at: to 2026-03-29")
    assert filters_subtitle(ACCIDENT, {"created_at__gte": "2026-03-29T00:00:00Z"}) == (
        "Created at: from 2026-03-29 01:00")


def test_no_filters_no_words():
    assert filters_subtitle(ACCIDENT, {}) is None and filters_file_part(ACCIDENT, None) == ""


def test_a_filter_not_allowed_is_refused_here_too():
    with pytest.raises(FilterError):
        filters_subtitle(ACCIDENT, {"customer_name": "x"})


@pytest.mark.parametrize("value", ["../../etc/passwd", 'a"b;c\r\nd', "客户", "Zoë Müller",
                                   "CON", "...", "\u202eexe.txt", " ", "x" * 500])
def test_file_parts_are_safe_and_short(value):
    part = filters_file_part(ACCIDENT, {"car__make__icontains": value, "status": "paid"})
    assert part and len(part) <= MAX_FILE_PART
    assert all(c.isascii() and (c.isalnum() or c in "-_") for c in part), part
    assert part[0] not in "-_" and part[-1] not in "-_"


def test_file_parts_cut_at_a_whole_filter():
    part = filters_file_part(ACCIDENT, {"status": "paid", "customer_email__icontains": "y" * 70,
                                        "car__make": "z" * 70})
    assert part == "status-paid_email-contains-" + "y" * 39  # the value as the card clips it
    assert filters_file_part(ACCIDENT, {"status__in": "open,paid", "police_involved": "true"}) \
        == "status-one-of-open-paid_police-involved-yes"


def test_extreme_dates_are_words_not_errors(settings):
    settings.TIME_ZONE = "Europe/Paris"
    assert filters_subtitle(WARRANTY, {"purchase_date__lt": "0001-01-01"}) == (
        "Purchase date: before 0001-01-01")
    assert filters_subtitle(ACCIDENT, {"created_at__lte": "9999-12-31 23:59"}) == (
        "Created at: to 9999-12-31 23:59")
