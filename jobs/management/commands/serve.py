"""`manage.py serve`: several daphne processes on one port (realtime_site/serve.py does it)."""

from __future__ import annotations

import argparse
import sys

from django.core.management.base import BaseCommand

from realtime_site import serve


class Command(BaseCommand):
    help = ("Listen on one port and run N daphne processes on it (daphne --fd), restarting "
            "any that dies; SIGTERM stops them all. Needs REDIS_URL for their pushes to meet.")

    def add_arguments(self, parser):
        serve.build_parser(parser)

    def handle(self, *args, **options):
        keys = ("processes", "bind", "backlog", "app", "stop_timeout", "daphne_args")
        code = serve.serve(argparse.Namespace(**{key: options[key] for key in keys}))
        if code:
            sys.exit(code)
