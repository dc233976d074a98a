"""The dependency rules of docs/architecture.md, read from the code's own imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(folder: str) -> dict[str, set[str]]:
    """Top-level package of every import in each .py file under `folder` (lazy ones too)."""
    found = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize("folder, forbidden", [
    ("jobs", {"exports", "campaigns", "consumers", "tokens"}),  # kinds register themselves
    ("exports", {"campaigns", "consumers", "tokens"}),
    ("campaigns", {"exports", "consumers", "tokens"}),
    ("tokens", {"exports", "campaigns", "consumers"}),  # the socket reads tokens, not back
])
def test_apps_depend_one_way(folder, forbidden):
    offenders = {path: names & forbidden for path, names in imported_modules(folder).items()
                 if names & forbidden}
    assert offenders == {}


def test_the_client_imports_nothing_of_the_server():
    """clients/python speaks the public contract only; installed alone it must import."""
    server = {"realtime_site", "jobs", "exports", "campaigns", "tokens", "consumers", "django",
              "channels", "daphne", "tests"}
    used = imported_modules("clients/python/src")
    assert used and {path: names & server for path, names in used.items()
                     if names & server} == {}


def test_the_http_helpers_need_no_app():
    assert "jobs" not in imported_modules("realtime_site")["realtime_site/api.py"]


def test_no_module_past_about_400_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text(encoding="utf-8").splitlines())
             for folder in ("jobs", "exports", "campaigns", "consumers", "tokens",
                           "realtime_site")
             for p in (ROOT / folder).rglob("*.py") if "migrations" not in p.parts}
    assert {path: n for path, n in sizes.items() if n > 420} == {}
