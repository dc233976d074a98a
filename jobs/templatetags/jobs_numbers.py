"""`{% load jobs_numbers %}{{ counts.sent|number }}`: numbers in templates as jobs.numbers
writes them ("1,601"), whatever the locale settings (the summary email is plain text)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template

from jobs.numbers import fmt_number

register = template.Library()


@register.filter
def number(value: Any) -> str:
    """A number as people read it; anything that is not a number is shown as it is."""
    if isinstance(value, int | float | Decimal) or value is None:
        return fmt_number(value)
    return str(value)
