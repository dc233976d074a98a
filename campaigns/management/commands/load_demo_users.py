"""Demo data for campaigns: N active users, a Terms & Conditions v1, some acceptances."""

from __future__ import annotations

import time

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from campaigns.models import Acceptance, Agreement
from jobs.numbers import fmt_number

BATCH = 2000
TERMS_BODY = """1. You use this service at your own risk.
2. We keep your data only as long as the law requires.
3. Reminders about these terms stop once you accept them.
"""


class Command(BaseCommand):
    help = "Create N demo users (bulk, unusable password), the Terms & Conditions and acceptances."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=2000)
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when agreements already exist.")
        parser.add_argument("--accept-every", type=int, default=5,
                            help="Every Nth new user has already accepted (0: nobody).")

    def handle(self, *args, count: int, if_empty: bool, accept_every: int, **options):
        if count < 0:
            raise CommandError("--count must be 0 or more.")
        if if_empty and Agreement.objects.exists():
            self.stdout.write("Agreements exist already; nothing loaded.")
            return
        started = time.monotonic()
        User = get_user_model()
        # One unusable hash for everyone: hashing per user would take minutes at 10,000.
        password = make_password(None)
        with transaction.atomic():
            agreement, _ = Agreement.objects.get_or_create(
                slug="terms", defaults={"title": "Terms & Conditions", "version": 1,
                                        "body": TERMS_BODY},
            )
            start = User.objects.filter(username__startswith="demo-").count()
            for first in range(start, start + count, BATCH):
                users = [
                    User(username=f"demo-{n:06d}", email=f"demo-{n:06d}@example.test",
                         first_name=f"Demo {n}", password=password, is_active=True)
                    for n in range(first, min(first + BATCH, start + count))
                ]
                User.objects.bulk_create(users, batch_size=BATCH)
            if accept_every > 0:
                new_ids = (User.objects.filter(username__startswith="demo-")
                           .order_by("pk").values_list("pk", flat=True)[start:])
                Acceptance.objects.bulk_create(
                    [Acceptance(user_id=pk, agreement=agreement, version=agreement.version)
                     for i, pk in enumerate(new_ids) if i % accept_every == 0],
                    batch_size=BATCH, ignore_conflicts=True,
                )
        self.stdout.write(self.style.SUCCESS(
            f"{fmt_number(count)} demo users, agreement '{agreement.title}' v{agreement.version} "
            f"in {time.monotonic() - started:.1f} s"
        ))
