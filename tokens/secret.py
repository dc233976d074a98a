"""The token's text: `rtj_<prefix>_<secret>`, and what is stored of it.

- `rtj_` says what it is (secret scanners and people recognise it; a string without it is
  refused before any database work);
- `<prefix>`, 8 hex characters, is stored in clear: one indexed lookup finds the row, and
  lists show it so a person can tell their tokens apart;
- `<secret>`, 48 hex characters (192 random bits from `secrets`), is stored as its SHA-256.

Why SHA-256 and not one of Django's password hashers: a password hasher is slow on purpose
(PBKDF2, 1,000,000 iterations, ~0.3 s here) because passwords are guessable and a stolen
hash must cost each guess dearly. 192 random bits are not guessable: even a fast hash of
them cannot be searched, so the slowness would protect nothing and would cost that CPU on
every API request and WebSocket recheck — a lever for anyone who sends bad tokens. Nor is the
hash keyed with SECRET_KEY: rotating that key would then silently kill every token.
The comparison is `hmac.compare_digest`, so its time says nothing about how much matched.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_TAG = "rtj"
PREFIX_HEX = 8
SECRET_HEX = 48
# The whole shape, checked before any database work: anything else is not one of ours.
TOKEN_SHAPE = re.compile(rf"^{TOKEN_TAG}_([0-9a-f]{{{PREFIX_HEX}}})_([0-9a-f]{{{SECRET_HEX}}})$")
TOKEN_LENGTH = len(TOKEN_TAG) + 2 + PREFIX_HEX + SECRET_HEX


def new_token() -> tuple[str, str, str]:
    """A fresh (token text, prefix, secret hash); the text is shown once and never stored."""
    prefix = secrets.token_hex(PREFIX_HEX // 2)
    secret = secrets.token_hex(SECRET_HEX // 2)
    return f"{TOKEN_TAG}_{prefix}_{secret}", prefix, hash_secret(secret)


def split_token(text: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed token, else None."""
    match = TOKEN_SHAPE.match(text)
    return (match.group(1), match.group(2)) if match else None


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def secret_matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)
