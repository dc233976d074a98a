"""The pure parts: scopes, lifetimes, the header and the token's shape."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tokens.header import HeaderRefused, bearer_token, token_in_query
from tokens.scopes import ScopeError, parse_expiry, parse_scopes
from tokens.secret import hash_secret, new_token, secret_matches, split_token


@pytest.mark.parametrize(("value", "scopes"), [
    (None, ("read", "start", "cancel")), ("cancel,read", ("read", "cancel")),
    (" START ", ("start",)), (["read", "read"], ("read",)),
])
def test_scopes(value, scopes):
    assert parse_scopes(value) == scopes


@pytest.mark.parametrize("value", ["", ",", [], "read,write", ["read", 1], 7, {"read": 1}])
def test_bad_scopes(value):
    with pytest.raises(ScopeError):
        parse_scopes(value)


@pytest.mark.parametrize(("value", "expected"), [
    ("30d", timedelta(days=30)), ("12h", timedelta(hours=12)), ("90m", timedelta(minutes=90)),
    (" 7D ", timedelta(days=7)), ("never", None), ("Never", None), (None, None),
])
def test_expiry(value, expected):
    assert parse_expiry(value) == expected


@pytest.mark.parametrize("value", ["0d", "3651d", "1y", "-1d", "1.5h", "d", "30", 30,
                                   "9" * 7 + "d"])
def test_bad_expiry(value):
    with pytest.raises(ScopeError):
        parse_expiry(value)


def test_a_new_token_splits_back_and_only_its_secret_matches():
    text, prefix, stored = new_token()
    assert split_token(text) == (prefix, text.rsplit("_", 1)[1])
    assert secret_matches(text.rsplit("_", 1)[1], stored)
    assert not secret_matches("0" * 48, stored)
    assert stored == hash_secret(text.rsplit("_", 1)[1]) and text not in stored
    assert new_token()[0] != text
    for bad in (text.upper(), text + "0", text[:-1], "x" + text, text.replace("_", "-")):
        assert split_token(bad) is None


@pytest.mark.parametrize(("value", "status"), [
    ("Basic abc", 401), ("", 401), ("Bearer", 400), ("Bearer  ", 400), ("Bearer é", 400),
    ("Bearer a\tb", 400), ("Bearer " + "a" * 600, 400), (b"Bearer \xff", 400),
])
def test_headers_that_carry_no_token(value, status):
    with pytest.raises(HeaderRefused) as info:
        bearer_token(value)
    assert info.value.status == status and str(info.value)


def test_the_token_is_what_follows_bearer():
    assert bearer_token("Bearer  rtj_x ") == "rtj_x"
    assert bearer_token(b"bearer rtj_y") == "rtj_y"


@pytest.mark.parametrize(("query", "found"), [
    ("token=1", True), ("a=1&Access_Token=", True), ("apikey=x", True), (b"bearer=x", True),
    ("", False), ("tokens=1", False), ("status=open", False), ("next=/?token=1", False),
])
def test_credentials_in_the_query(query, found):
    assert token_in_query(query) is found
