"""Personal acceptance links: signed, expiring, bound to one user and one agreement version."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "campaigns.acceptance-link"


class LinkInvalid(Exception):
    """Forged, truncated or not a link of ours."""


class LinkExpired(Exception):
    """Genuine but older than CAMPAIGN_LINK_MAX_AGE."""


@dataclass(frozen=True)
class LinkClaim:
    user_id: int
    agreement_id: int
    version: int


def link_token(*, user_id: int, agreement_id: int, version: int) -> str:
    """A URL-safe token that only this site can make (SECRET_KEY) and that expires."""
    return signing.dumps([user_id, agreement_id, version], salt=SALT, compress=True)


def link_read(token: str) -> LinkClaim:
    """Verify signature and age; raise LinkInvalid or LinkExpired."""
    try:
        user_id, agreement_id, version = signing.loads(
            token, salt=SALT, max_age=settings.CAMPAIGN_LINK_MAX_AGE
        )
    except signing.SignatureExpired:
        raise LinkExpired() from None
    except (signing.BadSignature, ValueError, TypeError):
        raise LinkInvalid() from None
    if not all(isinstance(v, int) for v in (user_id, agreement_id, version)):
        raise LinkInvalid()
    return LinkClaim(user_id, agreement_id, version)


def acceptance_url(*, user_id: int, agreement_id: int, version: int) -> str:
    """The absolute link put in a reminder (base from SITE_URL)."""
    token = link_token(user_id=user_id, agreement_id=agreement_id, version=version)
    return settings.SITE_URL + reverse("agreements:accept", args=[token])
