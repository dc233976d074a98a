"""Personal access tokens from a shell: create, list, revoke.

    python manage.py jobs_token create --user admin [--scopes read,start,cancel] [--expires 30d]
    python manage.py jobs_token list [--user admin]
    python manage.py jobs_token revoke ID

`create` prints the token alone on stdout (`TOKEN=$(manage.py jobs_token create ...)`), the
note about it on stderr; it is shown this once and stored only hashed. Exit status 2 for bad
input (unknown user, a user who is not active staff, unknown scope, bad expiry, unknown ID).
"""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from jobs.broadcast import broadcaster
from tokens.models import AccessToken
from tokens.scopes import ScopeError, parse_expiry
from tokens.services import TokenNotAllowed, token_create, token_revoke

EXIT_USAGE = 2


def _user(username: str) -> Any:
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise CommandError(f"No user named {username!r}.", returncode=EXIT_USAGE)
    return user


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "–"


class Command(BaseCommand):
    help = "Create, list and revoke personal access tokens (Authorization: Bearer)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="make a token; prints it alone on stdout")
        create.add_argument("--user", required=True, help="the staff user the token acts as")
        create.add_argument("--scopes", default="read,start,cancel",
                            help="comma-separated: read, start, cancel (default: all three)")
        create.add_argument("--expires", default="never",
                            help="30d, 12h, 90m or never (default: never)")
        create.add_argument("--name", default="", help="what the token is for")
        listing = sub.add_parser("list", help="tokens with prefix, scopes, expiry, last use")
        listing.add_argument("--user", help="only this user's tokens")
        revoke = sub.add_parser("revoke", help="revoke one token by its ID (see list)")
        revoke.add_argument("id", help="the token's ID, the first column of list")

    def handle(self, *args: Any, **options: Any) -> None:
        getattr(self, f"do_{options['action']}")(options)

    def do_create(self, options: dict) -> None:
        user = _user(options["user"])
        try:
            token, text = token_create(user=user, name=options["name"],
                                       scopes=options["scopes"],
                                       expires_in=parse_expiry(options["expires"]))
        except (ScopeError, TokenNotAllowed) as exc:
            raise CommandError(str(exc), returncode=EXIT_USAGE) from None
        self.stdout.write(text)
        self.stderr.write(
            f"Token {token.pk} ({token.display_prefix}) for {user.get_username()}: scopes "
            f"{token.scopes}, expires {_when(token.expires_at) if token.expires_at else 'never'}."
            " It is shown only now; send it as `Authorization: Bearer <token>`.")

    def do_list(self, options: dict) -> None:
        tokens = AccessToken.objects.select_related("user").order_by("pk")
        if options.get("user"):
            tokens = tokens.filter(user=_user(options["user"]))
        rows = [("ID", "TOKEN", "USER", "SCOPES", "STATUS", "EXPIRES", "LAST USED", "NAME")]
        rows += [(str(t.pk), t.display_prefix, t.user.get_username(), t.scopes, t.status(),
                  _when(t.expires_at) if t.expires_at else "never", _when(t.last_used_at),
                  t.name) for t in tokens]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
        for row in rows:
            self.stdout.write("  ".join(
                [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
                + [row[-1]]).rstrip())

    def do_revoke(self, options: dict) -> None:
        token = token_revoke(token_id=options["id"])
        if token is None:
            raise CommandError(f"No token with ID {options['id']!r}; see `jobs_token list`.",
                               returncode=EXIT_USAGE)
        self.stdout.write(f"Revoked token {token.pk} ({token.display_prefix}) of "
                          f"{token.user.get_username()} at {_when(token.revoked_at)}.")
        # The revoke pushes `token.revoked` from this process's private loop: let it go out
        # before the process exits, or only the sockets' periodic recheck would close them.
        broadcaster.wait_idle(timeout=2.0)
