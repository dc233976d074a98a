"""Test data: users (and, per app, domain rows)."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(*, staff: bool = True, superuser: bool = False, username: str | None = None,
              email: str | None = None, active: bool = True):
    """A user who can log in with PASSWORD."""
    n = next(_seq)
    username = username or f"user{n}"
    return get_user_model().objects.create_user(
        username=username, email=email if email is not None else f"{username}@example.com",
        password=PASSWORD, is_staff=staff or superuser, is_superuser=superuser, is_active=active,
    )
