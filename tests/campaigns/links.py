"""Accept an agreement the way a person does: the personal link, GET the page, POST its form."""

from __future__ import annotations

import httpx
from django.urls import reverse

from campaigns.links import link_token


def accept_over_http(base_url: str, *, user_id: int, agreement) -> httpx.Response:
    """Open the user's link on a live server as an anonymous browser would, and accept with
    its form; the page itself when it has no form (already accepted, expired...)."""
    token = link_token(user_id=user_id, agreement_id=agreement.pk, version=agreement.version)
    path = reverse("agreements:accept", args=[token])
    with httpx.Client(base_url=base_url, timeout=30) as http:
        page = http.get(path)
        if "csrfmiddlewaretoken" not in page.text:
            return page
        return http.post(path, data={"csrfmiddlewaretoken": http.cookies["csrftoken"]})
