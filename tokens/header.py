"""Reading a credential off a request: the `Authorization: Bearer` header, never the URL.

Shared by the HTTP middleware (tokens.middleware) and the WebSocket handshake
(consumers.bearer); neither touches the database here.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from tokens.secret import TOKEN_LENGTH

# Query parameters that look like a credential. They are refused, not ignored: a token in a
# URL ends up in server, proxy and browser-history logs, and a client that put it there
# should hear so at once rather than wonder why it is "not logged in".
QUERY_NAMES = frozenset({"token", "access_token", "bearer", "api_key", "apikey"})
QUERY_REFUSAL = ("Access tokens are not accepted in the URL (URLs end up in logs); send the "
                 "header `Authorization: Bearer <token>` instead, and revoke this token: it "
                 "may have been logged.")
# Longer than any token of ours by far; beyond it nothing is parsed.
MAX_HEADER = 512


class HeaderRefused(Exception):
    """A header that cannot carry a token: `status` (400 or 401), the sentence, and the
    RFC 6750 error code for WWW-Authenticate (None: no error code, just the scheme)."""

    def __init__(self, message: str, status: int, error: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error

    @property
    def challenge(self) -> str:
        return f'Bearer error="{self.error}"' if self.error else 'Bearer realm="api"'


def token_in_query(query: str | bytes) -> bool:
    """Whether the query string carries a parameter named like a credential."""
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    return any(name.lower() in QUERY_NAMES for name, _ in parse_qsl(query, keep_blank_values=True))


def bearer_token(value: str | bytes) -> str:
    """The token text of an `Authorization` header value, or HeaderRefused.

    400 `invalid_request` for what is not a header a client meant (too long, not ASCII,
    `Bearer` with nothing after it); 401 with a bare challenge for another scheme (Basic...);
    the shape of the token itself is the caller's check (401 `invalid_token`).
    """
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if len(value) > MAX_HEADER:
        raise HeaderRefused(f"The Authorization header is too long (an access token is "
                            f"{TOKEN_LENGTH} characters).", 400, "invalid_request")
    if not value.isascii() or not value.isprintable():
        raise HeaderRefused("The Authorization header must be plain ASCII text: "
                            "`Bearer <token>`.", 400, "invalid_request")
    scheme, _, credentials = value.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise HeaderRefused("Send an access token as `Authorization: Bearer <token>`; other "
                            "authorization schemes are not accepted.", 401, None)
    credentials = credentials.strip()
    if not credentials:
        raise HeaderRefused("The Authorization header says Bearer but carries no token.",
                            400, "invalid_request")
    return credentials
