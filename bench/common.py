"""Shared set-up for the benchmarks: a migrated database, a staff user, servers."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.services import Daphne, Redis  # noqa: E402

USERNAME = "bench"
PASSWORD = "bench-password"


def manage(env: dict[str, str], *args: str) -> str:
    full = {**os.environ, "DJANGO_SETTINGS_MODULE": "realtime_site.settings", **env}
    full.setdefault("DJANGO_PASSWORD_HASHERS", "django.contrib.auth.hashers.MD5PasswordHasher")
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=full,
                            check=True, capture_output=True, text=True)
    return result.stdout


def sqlite_env() -> dict[str, str]:
    """A fresh, migrated SQLite database with one staff user."""
    workdir = Path(tempfile.mkdtemp(prefix="rt-bench-"))
    env = {"DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}", "DJANGO_VAR_DIR": str(workdir),
           "MEDIA_ROOT": str(workdir / "media")}
    manage(env, "migrate", "--noinput", "-v0")
    create_user(env)
    return env


def create_user(env: dict[str, str]) -> None:
    manage(env, "shell", "-c",
           "from django.contrib.auth import get_user_model as g; U=g(); "
           f"U.objects.filter(username='{USERNAME}').delete(); "
           f"U.objects.create_user('{USERNAME}', 'b@example.com', '{PASSWORD}', is_staff=True)")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary_ms(values: list[float]) -> tuple[str, str]:
    if not values:
        return "-", "-"
    return f"{statistics.median(values) * 1000:.1f}", f"{percentile(values, 99) * 1000:.1f}"


def table(headers: list[str], rows: list[list[object]]) -> str:
    cells = [headers] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


__all__ = ["Daphne", "Redis", "manage", "sqlite_env", "summary_ms", "table"]
