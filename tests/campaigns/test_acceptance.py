"""The personal link: valid, forged, expired, another user's, already accepted, CSRF."""

from __future__ import annotations

import pytest
from django.core import signing
from django.test import Client, override_settings

from campaigns.links import SALT, acceptance_url, link_token
from campaigns.models import Acceptance
from campaigns.selectors import users_unsigned
from tests.campaigns.factories import make_agreement
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def signer():
    person = make_user(staff=False)
    agreement = make_agreement()
    token = link_token(user_id=person.pk, agreement_id=agreement.pk, version=agreement.version)
    return person, agreement, f"/agreements/accept/{token}/"


def _csrf_post(client: Client, path: str):
    client.get(path)
    token = client.cookies["csrftoken"].value
    return client.post(path, {"csrfmiddlewaretoken": token})


def test_valid_link_shows_the_agreement_and_post_accepts(signer):
    person, agreement, path = signer
    before = users_unsigned(agreement_id=agreement.pk).count()
    client = Client(enforce_csrf_checks=True)
    page = client.get(path)
    assert page.status_code == 200
    assert b"Terms &amp; Conditions" in page.content and b"1. Be nice." in page.content
    assert b"csrfmiddlewaretoken" in page.content
    assert not Acceptance.objects.exists()  # GET accepts nothing

    response = _csrf_post(client, path)
    assert response.status_code == 200 and b"Thank you" in response.content
    acceptance = Acceptance.objects.get()
    assert (acceptance.user_id, acceptance.agreement_id, acceptance.version) == (
        person.pk, agreement.pk, 1)
    assert users_unsigned(agreement_id=agreement.pk).count() == before - 1


def test_post_without_csrf_token_is_refused(signer):
    _person, _agreement, path = signer
    response = Client(enforce_csrf_checks=True).post(path)
    assert response.status_code == 403
    assert not Acceptance.objects.exists()


def test_used_link_says_already_accepted_and_records_nothing_more(signer):
    _person, _agreement, path = signer
    client = Client(enforce_csrf_checks=True)
    assert _csrf_post(client, path).status_code == 200
    again = client.get(path)
    assert again.status_code == 200 and b"Already accepted" in again.content
    assert _csrf_post(client, path).status_code == 200
    assert Acceptance.objects.count() == 1


@pytest.mark.parametrize("mangle", [
    lambda t: t[:-3] + ("AAA" if not t.endswith("AAA") else "BBB"),  # signature changed
    lambda t: "x" + t,
    lambda t: "not-a-token",
])
def test_forged_link_is_a_clear_400(signer, mangle):
    _person, _agreement, path = signer
    token = path.split("/")[-2]
    response = Client().get(f"/agreements/accept/{mangle(token)}/")
    assert response.status_code == 400 and b"not valid" in response.content
    assert not Acceptance.objects.exists()


def test_link_for_another_user_id_cannot_be_made_without_the_key(signer):
    person, agreement, _path = signer
    other = make_user(staff=False)
    forged = signing.dumps([other.pk, agreement.pk, 1], salt=SALT, key="guessed-key")
    response = Client().post(f"/agreements/accept/{forged}/")
    assert response.status_code in (400, 403)
    assert not Acceptance.objects.exists()


def test_expired_link_is_a_clear_410(signer):
    _person, _agreement, path = signer
    with override_settings(CAMPAIGN_LINK_MAX_AGE=-1):
        response = Client().get(path)
    assert response.status_code == 410 and b"expired" in response.content


def test_another_logged_in_user_cannot_use_someone_elses_link(signer):
    person, _agreement, path = signer
    other = make_user(staff=False)
    client = Client()
    assert client.login(username=other.username, password=PASSWORD)
    response = client.get(path)
    assert response.status_code == 403 and b"another account" in response.content
    assert client.post(path).status_code == 403
    assert not Acceptance.objects.exists()
    # The owner of the link, logged in, may use it.
    own = Client()
    assert own.login(username=person.username, password=PASSWORD)
    assert own.get(path).status_code == 200


def test_link_for_an_older_version_is_refused(signer):
    _person, agreement, path = signer
    agreement.version = 2
    agreement.save()
    response = Client().get(path)
    assert response.status_code == 410 and b"older version" in response.content


def test_links_are_absolute_from_site_url(signer):
    person, agreement, _path = signer
    with override_settings(SITE_URL="https://example.org"):
        url = acceptance_url(user_id=person.pk, agreement_id=agreement.pk, version=1)
    assert url.startswith("https://example.org/agreements/accept/")
