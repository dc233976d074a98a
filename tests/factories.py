"""Test data: users (and, per app, domain rows)."""

from __future__ import annotations

import itertools

from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


# The role groups every install has (exports.permissions, campaigns.permissions).
ROLES = {"exporter": "Claims exporters", "sender": "Reminder senders"}


def make_user(*, staff: bool = True, superuser: bool = False, username: str | None = None,
              email: str | None = None, active: bool = True, roles: tuple[str, ...] | None = None):
    """A user who can log in with PASSWORD; staff are in both role groups unless `roles` says
    otherwise (roles=() for a staff member with no right to start anything)."""
    from django.contrib.auth.models import Group

    n = next(_seq)
    username = username or f"user{n}"
    user = get_user_model().objects.create_user(
        username=username, email=email if email is not None else f"{username}@example.com",
        password=PASSWORD, is_staff=staff or superuser, is_superuser=superuser, is_active=active,
    )
    for role in (("exporter", "sender") if staff and roles is None else roles or ()):
        user.groups.add(Group.objects.get(name=ROLES[role]))
    return user
