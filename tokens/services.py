"""Create, check, touch and revoke access tokens: the dashboard, the command, the admin, the
HTTP middleware and the WebSocket all go through these."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from jobs.broadcast import broadcaster
from jobs.groups import TOKEN_REVOKED, user_group
from tokens.models import AccessToken
from tokens.scopes import SCOPES, parse_scopes
from tokens.secret import new_token, secret_matches, split_token

# last_used_at is written at most this often per token: a script polling every second would
# otherwise turn every read into a write (and, on SQLite, take the write lock each time).
TOUCH_EVERY = timedelta(minutes=1)
MAX_NAME = 100
# One sentence for an unknown prefix, a wrong secret and a malformed token: which of the three
# it was would tell a guesser which prefixes exist.
INVALID = "This access token is not valid."
REVOKED = "This access token was revoked."


class TokenRefused(Exception):
    """The token cannot be used; the message is the 401's sentence."""


class TokenNotAllowed(ValueError):
    """A token this user may not have (not active staff), or bad input; a sentence."""


def token_create(*, user: Any, name: str = "", scopes: Any = None,
                 expires_in: timedelta | None = None) -> tuple[AccessToken, str]:
    """A new token of `user`; returns the row and the token text, which exists only here."""
    if not (user.is_active and user.is_staff):
        raise TokenNotAllowed(f"{user.get_username()} is not an active staff member; only "
                              "staff may hold access tokens.")
    chosen = parse_scopes(scopes)
    name = (name or "").strip()
    if len(name) > MAX_NAME:
        raise TokenNotAllowed(f"The name is longer than {MAX_NAME} characters.")
    now = timezone.now()
    for _attempt in range(5):  # 32-bit prefixes: a collision is rare, and just drawn again
        text, prefix, secret_hash = new_token()
        try:
            with transaction.atomic():
                token = AccessToken.objects.create(
                    user=user, name=name, prefix=prefix, secret_hash=secret_hash,
                    scopes=",".join(chosen), created_at=now,
                    expires_at=now + expires_in if expires_in else None)
            return token, text
        except IntegrityError:
            continue
    raise RuntimeError("Could not draw an unused token prefix in 5 tries.")


def token_authenticate(text: str) -> AccessToken:
    """The token row (with its user, as the user is now) for a presented token text, or
    TokenRefused. One indexed lookup by prefix; the secret compared in constant time."""
    parts = split_token(text)
    prefix, secret = parts if parts else ("", "0" * 48)
    token = (AccessToken.objects.select_related("user").filter(prefix=prefix).first()
             if parts else None)
    # Compared even when nothing was found, so both ways cost the same hash and compare.
    matches = secret_matches(secret, token.secret_hash if token else "0" * 64)
    if token is None or not matches:
        raise TokenRefused(INVALID)
    refusal = token_refusal(token)
    if refusal:
        raise TokenRefused(refusal)
    return token


def token_refusal(token: AccessToken | None) -> str:
    """Why a known token no longer serves (a sentence for its client), or "" while it does."""
    if token is None:
        return INVALID
    status = token.status()
    if status == "revoked":
        return REVOKED
    if status == "expired":
        return "This access token has expired; create a new one."
    if not token.user.is_active:
        return "This access token's user is deactivated."
    return ""


def token_touch(token: AccessToken) -> None:
    """Record a use, at most once per TOUCH_EVERY per token (conditional, so several servers
    racing write once)."""
    now = timezone.now()
    if token.last_used_at is not None and now - token.last_used_at < TOUCH_EVERY:
        return
    AccessToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - TOUCH_EVERY), pk=token.pk,
    ).update(last_used_at=now)
    token.last_used_at = now


def token_revoke(*, token_id: Any, user: Any | None = None) -> AccessToken | None:
    """Revoke one token (of `user` when given: the dashboard; any: the command and the admin).
    None when there is no such token. Revoking twice keeps the first time. Sockets opened with
    it close at once on this server's layer, and within JOBS_WS_RECHECK everywhere else."""
    tokens = AccessToken.objects.all() if user is None else AccessToken.objects.filter(user=user)
    try:
        token = tokens.filter(pk=int(token_id)).first()
    except (TypeError, ValueError, OverflowError):
        return None
    if token is None:
        return None
    now = timezone.now()
    if AccessToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=now):
        token.revoked_at = now
        message = {"type": TOKEN_REVOKED, "token_id": token.pk}
        transaction.on_commit(lambda: broadcaster.send(user_group(token.user_id), message))
    else:
        token.refresh_from_db(fields=["revoked_at"])
    return token


def token_user(token_id: int) -> tuple[Any | None, str]:
    """The user a socket opened with this token may still act as, and "" ; or None and the
    sentence that says why not (revoked, expired, gone, user deactivated). Staff is the
    caller's check."""
    token = AccessToken.objects.select_related("user").filter(pk=token_id).first()
    refusal = token_refusal(token)
    return (None, refusal) if refusal else (token.user, "")


def tokens_of(user: Any, limit: int = 50) -> list[AccessToken]:
    """The user's tokens, newest first (the dashboard's panel)."""
    return list(AccessToken.objects.filter(user=user)[:limit])


def token_snapshot(token: AccessToken) -> dict:
    """A token as the dashboard's API shows it (never the secret, nor its hash)."""
    def iso(value):
        return value.isoformat().replace("+00:00", "Z") if value else None

    return {
        "id": token.pk, "name": token.name, "prefix": token.display_prefix,
        "scopes": [s for s in SCOPES if s in token.scope_set], "status": token.status(),
        "created_at": iso(token.created_at), "expires_at": iso(token.expires_at),
        "last_used_at": iso(token.last_used_at), "revoked_at": iso(token.revoked_at),
    }
