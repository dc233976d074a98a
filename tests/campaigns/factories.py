"""Agreements and many unsigned users, fast (bulk insert, one unusable password)."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from campaigns.models import Agreement

_seq = itertools.count(1)


def make_agreement(*, slug: str | None = None, title: str = "Terms & Conditions",
                   version: int = 1) -> Agreement:
    n = next(_seq)
    return Agreement.objects.create(slug=slug or f"terms-{n}", title=title, version=version,
                                    body="1. Be nice.\n2. Read the terms.")


def make_users(count: int, *, prefix: str | None = None) -> list[str]:
    """Create `count` active users with emails; return their addresses in creation order."""
    prefix = prefix or f"r{next(_seq)}"
    password = make_password(None)
    users = [get_user_model()(username=f"{prefix}-{i:05d}", email=f"{prefix}-{i:05d}@example.test",
                              password=password, is_active=True) for i in range(count)]
    get_user_model().objects.bulk_create(users, batch_size=1000)
    return [u.email for u in users]
