"""Claims for the export tests: a few rows with known, awkward values, or many demo rows."""

from __future__ import annotations

import io
import itertools
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.core.management import call_command

from exports.models import AccidentClaim, Car, WarrantyClaim
from jobs.progress import Reporter
from jobs.services import job_cancel

_seq = itertools.count(1)
PARIS = ZoneInfo("Europe/Paris")
AWKWARD_TEXT = [
    "Zoë Müller-Łukasiewicz",
    "  leading and trailing spaces  ",
    "Fish & chips <b>not bold</b> \"quoted\" 'single'",
    "emoji 🚗💥 and 客户要求尽快处理",
    "line one\nline two\ttabbed",
    "control\x01char\x1fremoved",
    "=SUM(A1:A2)",
]


def make_car(**fields) -> Car:
    n = next(_seq)
    defaults = {"make": "Škoda", "model": "Octavia", "year": 2020, "plate": f"AB-{n:03d}-CD",
                "vin": f"VF1TEST{n:010d}"}
    return Car.objects.create(**{**defaults, **fields})


def make_accidents(n: int, *, car: Car | None = None, status: str = "open") -> list[AccidentClaim]:
    """n accident claims cycling through AWKWARD_TEXT, with aware datetimes off UTC."""
    car = car or make_car()
    base = datetime(2026, 3, 29, 0, 30, 15, 250000, tzinfo=PARIS)  # around a DST change
    claims = []
    for i in range(n):
        k = next(_seq)
        text = AWKWARD_TEXT[i % len(AWKWARD_TEXT)]
        claims.append(AccidentClaim(
            number=f"ACC-T{k:07d}", customer_name=text, customer_email=f"c{k}@example.com",
            car=car, amount=Decimal("1234.56") + i, status=status, description=text,
            created_at=base + timedelta(hours=i), updated_at=base,
            occurred_at=base - timedelta(days=i), location="Kraków", police_involved=i % 2 == 0,
        ))
    return AccidentClaim.objects.bulk_create(claims)


def make_warranties(n: int) -> list[WarrantyClaim]:
    car = make_car(make="Citroën", model="C3")
    return WarrantyClaim.objects.bulk_create([
        WarrantyClaim(number=f"WAR-T{next(_seq):07d}", customer_name="Anaïs Dubois",
                      customer_email="anais@example.com", car=car, amount=Decimal("99.90"),
                      description="", part="Gearbox", mileage_km=120_000 + i,
                      purchase_date=date(2024, 2, 29))
        for i in range(n)
    ])


def load_claims(count: int, types: str = "accident") -> None:
    """Many realistic rows through the demo loader (bulk inserts)."""
    call_command("load_demo_claims", count=count, types=types, seed=next(_seq),
                 stdout=io.StringIO())


def export_now(*, owner_id: int, reporter_factory=None, **start):
    """Run one export in this thread through the one foreground entry point; the finished job."""
    from exports.services import export_start
    from jobs.process import run_foreground

    return run_foreground(create=lambda: export_start(owner_id=owner_id, **start),
                          reporter_factory=reporter_factory)



def export_threads() -> list[str]:
    """The names of the export's helper threads alive now (reader, deflater)."""
    return [t.name for t in threading.enumerate() if t.name.startswith("export-")]


class CancelAfterFirstChunk(Reporter):
    """The owner presses cancel while the first chunk is being written; `notes["threads"]`
    records the export threads alive at that moment."""

    def __init__(self, job):
        super().__init__(job, interval=0)

    def advance(self, n=1, message=None):
        super().advance(n, message)
        if self.done == n:
            self.notes["threads"] = export_threads()
            job_cancel(job_id=self.job_id)
