"""`manage.py jobs_token` in its own process: create prints the token alone, list and revoke
complete it, bad input exits 2 with a sentence."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import make_user
from tests.tokens.conftest import manage
from tokens.models import AccessToken
from tokens.secret import hash_secret

TOKEN = re.compile(r"^rtj_([0-9a-f]{8})_([0-9a-f]{48})$")


def test_create_prints_the_token_alone_and_stores_only_its_hash(holder):
    done = manage("jobs_token", "create", "--user", holder.username, "--scopes", "read,cancel",
                  "--expires", "30d", "--name", "nightly script")
    assert done.returncode == 0, done.stderr
    text = done.stdout.strip()
    match = TOKEN.match(text)
    assert match and done.stdout == text + "\n", done.stdout  # nothing else on stdout
    assert "shown only now" in done.stderr
    token = AccessToken.objects.get(prefix=match.group(1))
    assert token.user == holder and token.scopes == "read,cancel"
    assert token.name == "nightly script"
    assert token.secret_hash == hash_secret(match.group(2)) and match.group(2) not in str(
        list(AccessToken.objects.values_list()))
    expected = timezone.now() + timedelta(days=30)
    assert abs((token.expires_at - expected).total_seconds()) < 60


def test_create_defaults_to_every_scope_and_no_expiry(holder):
    done = manage("jobs_token", "create", "--user", holder.username)
    assert done.returncode == 0, done.stderr
    token = AccessToken.objects.get(prefix=TOKEN.match(done.stdout.strip()).group(1))
    assert token.scopes == "read,start,cancel" and token.expires_at is None


def test_list_and_revoke(holder):
    other = make_user(staff=True)
    mine = manage("jobs_token", "create", "--user", holder.username, "--name", "mine")
    theirs = manage("jobs_token", "create", "--user", other.username, "--name", "theirs")
    mine_prefix = TOKEN.match(mine.stdout.strip()).group(1)
    theirs_prefix = TOKEN.match(theirs.stdout.strip()).group(1)

    listing = manage("jobs_token", "list", "--user", holder.username)
    assert listing.returncode == 0, listing.stderr
    assert f"rtj_{mine_prefix}" in listing.stdout and theirs_prefix not in listing.stdout
    assert "active" in listing.stdout and "never" in listing.stdout
    assert mine.stdout.strip() not in listing.stdout  # never the secret
    everyone = manage("jobs_token", "list").stdout
    assert mine_prefix in everyone and theirs_prefix in everyone

    token = AccessToken.objects.get(prefix=mine_prefix)
    revoked = manage("jobs_token", "revoke", str(token.pk))
    assert revoked.returncode == 0, revoked.stderr
    assert f"Revoked token {token.pk} (rtj_{mine_prefix})" in revoked.stdout
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert "revoked" in manage("jobs_token", "list", "--user", holder.username).stdout
    assert AccessToken.objects.get(prefix=theirs_prefix).revoked_at is None


@pytest.mark.parametrize(("args", "sentence"), [
    (["create", "--user", "nobody-at-all"], "No user named 'nobody-at-all'"),
    (["create", "--user", "{holder}", "--scopes", "read,delete"], "Unknown scope 'delete'"),
    (["create", "--user", "{holder}", "--scopes", ","], "at least one scope"),
    (["create", "--user", "{holder}", "--expires", "soon"], "30d, 12h, 90m"),
    (["create", "--user", "{holder}", "--expires", "0d"], "more than zero"),
    (["create", "--user", "{clerk}"], "not an active staff member"),
    (["revoke", "999999"], "No token with ID '999999'"),
    (["revoke", "abc"], "No token with ID 'abc'"),
])
def test_bad_input_exits_2_with_a_sentence(holder, args, sentence):
    clerk = make_user(staff=False)
    args = [a.format(holder=holder.username, clerk=clerk.username) for a in args]
    done = manage("jobs_token", *args)
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert sentence in done.stderr and done.stdout == ""
    assert "Traceback" not in done.stderr
    assert not AccessToken.objects.exists()
