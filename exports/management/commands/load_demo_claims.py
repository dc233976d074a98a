"""Load demo cars and claims with bulk inserts (a million rows in a few minutes on SQLite)."""

from __future__ import annotations

import random
import time
import unicodedata
from datetime import timedelta
from decimal import Decimal

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from exports.models import AccidentClaim, Car, ClaimStatus, TheftClaim, WarrantyClaim

BATCH = 5000
MODELS = {"accident": AccidentClaim, "theft": TheftClaim, "warranty": WarrantyClaim}
SHARES = {"accident": 0.45, "theft": 0.2, "warranty": 0.35}
PREFIX = {"accident": "ACC", "theft": "THF", "warranty": "WAR"}
CARS = [("Škoda", "Octavia"), ("Volkswagen", "Golf"), ("Renault", "Clio"), ("Peugeot", "208"),
        ("Toyota", "Corolla"), ("Citroën", "C3"), ("BMW", "320d"), ("Mercedes-Benz", "A 180"),
        ("Dacia", "Sandero"), ("Tesla", "Model 3"), ("Fiat", "500"), ("Volvo", "XC60")]
FIRST = ["Zoë", "José", "Łukasz", "Anaïs", "Søren", "Chloé", "Mateo", "Ana", "Jürgen", "Nadia",
         "Björn", "Émilie", "Yūki", "Olga", "Amélie", "Ahmed", "Marta", "Tomás", "Ilse", "Li"]
LAST = ["Müller", "Núñez", "Żółć", "Dubois", "Ørsted", "Martin", "O'Brien", "García", "Nowak",
        "Schäfer", "Rossi", "Ångström", "Petrović", "Lefèvre", "Smith", "Van Dijk", "Kowalski",
        "Fernández", "Yılmaz", "Wang"]
PLACES = ["Lyon, rue de la République", "München, Marienplatz", "Kraków, Rynek Główny",
          "Sevilla, Avenida de la Constitución", "A7 km 212", "Parking Carrefour", "Zürich HB"]
PARTS = ["Gearbox", "Turbocharger", "Infotainment unit", "Water pump", "Battery pack",
         "Clutch", "Air conditioning", "Injector"]
NOTES = [
    "Rear-ended at a red light — minor damage 🚗💥",
    "Scratch on the left door; client says « c'était déjà là »",
    "Stolen overnight from the driveway.",
    "Pare-brise fissuré après gravillon",
    "Motor macht Geräusche bei 3 000 U/min",
    "Wheel & tyre replaced <urgent>",
    "Kein Schaden sichtbar",
    "客户要求尽快处理",
    "",
]
STATUSES = [s.value for s in ClaimStatus]


def _ascii(text: str) -> str:
    text = text.translate(_FOLD)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return text.lower().replace("'", "").replace(" ", "")


_FOLD = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss"})


def _vin(rng: random.Random, n: int) -> str:
    alphabet = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
    return "".join(rng.choice(alphabet) for _ in range(9)) + f"{n:08d}"


class Command(BaseCommand):
    help = "Load N demo claims spread over the claim types, plus cars (bulk inserts)."

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=50_000)
        parser.add_argument("--if-empty", action="store_true",
                            help="Do nothing when claims exist already.")
        parser.add_argument("--types", default=",".join(MODELS),
                            help="Comma-separated claim types to load (default: all).")
        parser.add_argument("--seed", type=int, default=42)

    def handle(self, *args, count: int, if_empty: bool, types: str, seed: int, **options):
        keys = [k.strip() for k in types.split(",") if k.strip()]
        unknown = sorted(set(keys) - set(MODELS))
        if unknown or not keys:
            raise CommandError(f"Unknown claim types {unknown}; use {sorted(MODELS)}.")
        if count < 0:
            raise CommandError("--count must be 0 or more.")
        if if_empty and any(m.objects.exists() for m in MODELS.values()):
            self.stdout.write("Claims exist already; nothing loaded.")
            return
        started = time.monotonic()
        rng = random.Random(seed)
        car_ids = self._cars(rng, max(50, min(50_000, count // 10)))
        share_total = sum(SHARES[k] for k in keys)
        remaining = count
        for i, key in enumerate(keys):
            n = remaining if i == len(keys) - 1 else round(count * SHARES[key] / share_total)
            remaining -= n
            self._claims(rng, key, n, car_ids)
        self.stdout.write(self.style.SUCCESS(
            f"Loaded {count:,} claims and {len(car_ids):,} cars in "
            f"{time.monotonic() - started:.1f} s."))

    def _cars(self, rng: random.Random, n: int) -> list[int]:
        start = Car.objects.count()
        cars = []
        for i in range(n):
            make, model = rng.choice(CARS)
            cars.append(Car(make=make, model=model, year=rng.randint(2005, 2026),
                            plate=f"{rng.choice('ABCDEFGH')}{rng.choice('KLMNPR')}-"
                                  f"{rng.randint(100, 999)}-{rng.choice('STVWXYZ')}"
                                  f"{rng.choice('ABCDE')}",
                            vin=_vin(rng, start + i)))
        with transaction.atomic():
            Car.objects.bulk_create(cars, batch_size=BATCH)
        return list(Car.objects.values_list("pk", flat=True))

    def _claims(self, rng: random.Random, key: str, n: int, car_ids: list[int]) -> None:
        model = MODELS[key]
        start = model.objects.count()
        now = timezone.now().replace(microsecond=0)
        for offset in range(0, n, BATCH):
            objs = []
            for i in range(offset, min(n, offset + BATCH)):
                first, last = rng.choice(FIRST), rng.choice(LAST)
                created = now - timedelta(seconds=rng.randint(0, 3 * 365 * 86400))
                common = {
                    "number": f"{PREFIX[key]}-{start + i + 1:08d}",
                    "customer_name": f"{first} {last}",
                    "customer_email": _ascii(f"{first}.{last}{start + i}@example.com"),
                    "car_id": rng.choice(car_ids),
                    "amount": Decimal(rng.randint(5_000, 2_500_000)) / 100,
                    "status": rng.choice(STATUSES),
                    "description": rng.choice(NOTES),
                    "created_at": created,
                    "updated_at": created + timedelta(hours=rng.randint(0, 500)),
                }
                when = created - timedelta(hours=rng.randint(1, 2000))
                if key == "accident":
                    extra = {"occurred_at": when, "location": rng.choice(PLACES),
                             "police_involved": rng.random() < 0.3}
                elif key == "theft":
                    extra = {"stolen_at": when, "police_report": f"PR-{rng.randint(1, 10**7):07d}",
                             "recovered": rng.random() < 0.15}
                else:
                    extra = {"part": rng.choice(PARTS), "mileage_km": rng.randint(100, 250_000),
                             "purchase_date": (when - timedelta(days=rng.randint(30, 900))).date()}
                objs.append(model(**common, **extra))
            with transaction.atomic():
                model.objects.bulk_create(objs, batch_size=BATCH)
            if n >= 200_000 and (offset // BATCH) % 20 == 0:
                self.stdout.write(f"  {key}: {offset + len(objs):,} / {n:,}")
