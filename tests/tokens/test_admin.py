"""Access tokens in the Django admin: listed with their prefix, read-only (the hash shown as a
hash, never a secret), revoked by the action; staff see their own, superusers all."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.factories import make_user
from tests.tokens.conftest import create_token
from tokens.models import AccessToken

pytestmark = pytest.mark.django_db(transaction=True)
CHANGELIST = "/admin/tokens/accesstoken/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_superusers_list_every_token_and_revoke_with_the_action():
    root = make_user(superuser=True)
    alice, bob = make_user(staff=True), make_user(staff=True)
    alice_token, bob_token = create_token(alice), create_token(bob)
    client = _client(root)
    page = client.get(CHANGELIST).content.decode()
    assert alice_token[:12] in page and bob_token[:12] in page
    assert alice_token not in page and bob_token not in page
    rows = list(AccessToken.objects.order_by("pk"))
    answer = client.post(CHANGELIST, {"action": "revoke_tokens",
                                      "_selected_action": [rows[0].pk]}, follow=True)
    assert "Revoked 1 token(s)" in answer.content.decode()
    rows = list(AccessToken.objects.order_by("pk"))
    assert rows[0].revoked_at is not None and rows[1].revoked_at is None


def test_the_detail_is_read_only_and_never_shows_the_secret():
    root = make_user(superuser=True)
    text = create_token(root, "--name", "ci")
    token = AccessToken.objects.get()
    page = _client(root).get(f"{CHANGELIST}{token.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert token.secret_hash in body and text.split("_")[2] not in body
    assert 'name="name"' not in body and 'name="scopes"' not in body  # no inputs
    assert _client(root).get(f"{CHANGELIST}add/").status_code == 403


def test_staff_see_only_their_own_tokens():
    alice, bob = make_user(staff=True), make_user(staff=True)
    alice_token, bob_token = create_token(alice), create_token(bob)
    page = _client(alice).get(CHANGELIST).content.decode()
    assert alice_token[:12] in page and bob_token[:12] not in page
    bobs = AccessToken.objects.get(user=bob)
    assert _client(alice).get(f"{CHANGELIST}{bobs.pk}/change/").status_code == 302  # not found
    _client(alice).post(CHANGELIST, {"action": "revoke_tokens", "_selected_action": [bobs.pk]})
    bobs.refresh_from_db()
    assert bobs.revoked_at is None
