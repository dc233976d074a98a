"""A personal access token: a program acting as one staff user, limited further by scopes.

Only a short prefix is kept in clear (to find the row with one indexed lookup, and to show
which token is which); the secret is kept as its SHA-256 (tokens/secret.py says why that is
enough here and a password hasher is not wanted).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from tokens.secret import TOKEN_TAG


class AccessToken(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="access_tokens")
    name = models.CharField(max_length=100, blank=True,
                            help_text="What the token is for, e.g. “nightly export script”.")
    # unique: the lookup index, and two tokens can never be confused on display.
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64, help_text="SHA-256 of the secret, hex.")
    scopes = models.CharField(max_length=64, help_text="Comma-separated: read, start, cancel.")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    # Written at most once a minute per token (tokens.services.token_touch), not per request.
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "access token"

    def __str__(self) -> str:
        return f"{self.display_prefix} ({self.name or 'unnamed'})"

    @property
    def display_prefix(self) -> str:
        """What the user sees of the token: `rtj_<prefix>`, the start of the real one."""
        return f"{TOKEN_TAG}_{self.prefix}"

    @property
    def scope_set(self) -> frozenset[str]:
        return frozenset(s for s in self.scopes.split(",") if s)

    def status(self, now: datetime | None = None) -> str:
        """`active`, `expired` or `revoked` (revoked wins: it is the deliberate act)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or timezone.now()):
            return "expired"
        return "active"
