"""What an access token may do beyond its user's own rights, and how its lifetime is written.

No imports of the app's models: `realtime_site.api` and the command parse with these alone.
"""

from __future__ import annotations

import re
from datetime import timedelta

READ, START, CANCEL = "read", "start", "cancel"
# In this order everywhere they are shown: list, start, stop.
SCOPES = (READ, START, CANCEL)
SCOPE_HELP = {
    READ: "list and watch jobs (HTTP GET and the WebSocket), download files",
    START: "start exports and campaigns, resume or retry jobs",
    CANCEL: "cancel jobs (HTTP and the WebSocket's cancel message)",
}
MAX_EXPIRY = timedelta(days=3650)
_EXPIRY = re.compile(r"^\s*(\d{1,6})\s*([dhm])\s*$", re.IGNORECASE)
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


class ScopeError(ValueError):
    """Bad scopes or lifetime: the sentence says what is allowed."""


def parse_scopes(value: str | list | tuple | None) -> tuple[str, ...]:
    """`read,start` (or a list of names) to those scopes in SCOPES order; None: all three.
    Unknown names, and none at all, are a ScopeError."""
    if value is None:
        return SCOPES
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ScopeError("Scopes are names: read, start, cancel.")
    wanted = {item.strip().lower() for item in items if item.strip()}
    if not wanted:
        raise ScopeError("A token needs at least one scope: read, start or cancel.")
    unknown = sorted(wanted - set(SCOPES))
    if unknown:
        raise ScopeError(f"Unknown scope {unknown[0][:20]!r}; use read, start and/or cancel.")
    return tuple(scope for scope in SCOPES if scope in wanted)


def parse_expiry(value: str | None) -> timedelta | None:
    """`30d`, `12h`, `90m` to a duration; `never` (or nothing) to None, a token that does not
    expire. Anything else, zero, or more than ten years is a ScopeError."""
    if value is None or (isinstance(value, str) and value.strip().lower() in {"", "never"}):
        return None
    match = _EXPIRY.match(value) if isinstance(value, str) else None
    if match is None:
        raise ScopeError("Expiry is a number and a unit (30d, 12h, 90m) or `never`.")
    amount = timedelta(**{_UNITS[match.group(2).lower()]: int(match.group(1))})
    if not timedelta(0) < amount <= MAX_EXPIRY:
        raise ScopeError("Expiry must be more than zero and at most 3650 days.")
    return amount
