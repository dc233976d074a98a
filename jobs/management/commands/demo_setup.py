"""Prepare the one-machine demo: an admin login printed on screen, demo data when empty."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand

DEMO_USERNAME = "admin"


class Command(BaseCommand):
    help = "Create the demo admin (password printed) and load demo data into an empty database."

    def add_arguments(self, parser):
        parser.add_argument("--claims", type=int, default=50_000)
        parser.add_argument("--users", type=int, default=2_000)
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args, **options):
        User = get_user_model()
        password = secrets.token_urlsafe(9)
        user, _created = User.objects.get_or_create(
            username=DEMO_USERNAME, defaults={"email": "admin@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        call_command("load_demo_claims", "--if-empty", f"--count={options['claims']}")
        call_command("load_demo_users", "--if-empty", f"--count={options['users']}")
        self.stdout.write(self.style.SUCCESS(
            f"\n  Open {options['url']} and log in as "
            f"{DEMO_USERNAME} / {password}\n  (a new password each time `make demo` starts)\n"
        ))
