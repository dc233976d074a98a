"""Who a socket's session still authenticates, checked the way Django's middleware does."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.utils.module_loading import import_string


def session_user(session_key: str | None) -> Any | None:
    """The user of this session now, or None: logged out, expired, deactivated, or the
    password changed since the login (the session auth hash, as `auth.get_user` checks it;
    like Django's middleware it then flushes the session).

    The session is loaded afresh: the one in the socket's scope was read at connect time.
    """
    if not session_key:
        return None
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")(session_key)
    user = auth.get_user(SimpleNamespace(session=store))
    return user if user.is_authenticated else None
