"""Close a user's open sockets when they log out (the socket outlives the HTTP session)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.dispatch import receiver

from jobs.broadcast import broadcaster
from jobs.groups import SESSION_ENDED, user_group


@receiver(user_logged_out)
def close_sockets_on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is None or request is None or not getattr(request, "session", None):
        return
    session_key = request.session.session_key
    broadcaster.send(user_group(user.pk), {"type": SESSION_ENDED, "session_key": session_key})
