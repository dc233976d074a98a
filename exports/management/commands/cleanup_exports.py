"""Delete expired export files, stored files without a live job, and orphaned temp files."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from exports.services import exports_cleanup
from jobs.numbers import fmt_number


class Command(BaseCommand):
    help = "Delete expired and orphaned export files (the servers also do this periodically)."

    def add_arguments(self, parser):
        parser.add_argument("--temp-grace", type=float, default=3600.0,
                            help="Seconds before an unknown temp file counts as orphaned.")

    def handle(self, *args, temp_grace: float, **options):
        counts = exports_cleanup(temp_grace=temp_grace)
        self.stdout.write(
            f"Deleted {fmt_number(counts['expired'])} expired, "
            f"{fmt_number(counts['orphaned'])} orphaned and "
            f"{fmt_number(counts['temp'])} temporary file(s)."
        )
