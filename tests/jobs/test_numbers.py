"""One number format for people: "1,601" in job messages, titles, mail and the terminal."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.template import Context, Template

from jobs.models import Job
from jobs.numbers import fmt_count, fmt_number
from tests.factories import make_user


@pytest.mark.parametrize(("value", "text"), [
    (0, "0"), (7, "7"), (1601, "1,601"), (1234567, "1,234,567"), (-1601, "-1,601"),
    (2601.5, "2,601.5"), (1601.0, "1,601"), (0.12345, "0.123"), (Decimal("1601.50"), "1,601.5"),
    (None, "–"), (float("inf"), "∞"), (True, "True"),
])
def test_numbers_as_the_pages_intl_number_format_writes_them_in_english(value, text):
    assert fmt_number(value) == text


def test_counts_with_their_noun():
    assert fmt_count(1, "row") == "1 row"
    assert fmt_count(1601, "reminder") == "1,601 reminders"
    assert fmt_count(0, "step") == "0 steps"


def test_the_template_filter_is_the_same_rule():
    text = Template("{% load jobs_numbers %}{{ a|number }} {{ b|number }} {{ c|number }}"
                    ).render(Context({"a": 1601, "b": "n/a", "c": 2.5}))
    assert text == "1,601 n/a 2.5"


def test_a_job_message_and_title_carry_the_separator(transactional_db):
    """A real job (run_job demo, in this process): its title, its last message and the
    command's last line all say 1,500, as the card beside them does."""
    user = make_user(staff=True)
    out = io.StringIO()
    call_command("run_job", "demo", "--steps", "1500", "--delay", "0", "--user", user.username,
                 "--plain", stdout=out, stderr=io.StringIO())
    job = Job.objects.get(owner=user)
    assert job.title == "Demo: 1,500 steps"
    assert job.message == "1,500 steps done"
    assert "succeeded: 1,500 done, 0 failed" in out.getvalue()
