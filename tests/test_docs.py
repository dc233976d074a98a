"""The documents code comments point at exist in this repository, and every trap they cite does.

Code comments cite "docs/architecture.md, trap N"; the numbers are stable, so each cited trap
must have its `### Trap N: ...` heading. Nothing outside tests/ may point at the team's texts
outside the repository (a clone does not have them).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARCHITECTURE = ROOT / "docs" / "architecture.md"
CONTRACT = ROOT / "docs" / "contract.md"

# Not the project's own files: virtualenv, VCS and tool caches, run-time data, test output.
SKIP_DIRS = {"node_modules", "__pycache__", "var", "test-output"}
# "trap 5", "Trap 12", "traps 1 and 3", "traps 14, 15": every number in such a citation.
TRAP_CITATION = re.compile(r"\btraps?\s+(\d+(?:\s*(?:,|and|&|/)\s*\d+)*)", re.IGNORECASE)
TRAP_HEADING = re.compile(r"^### Trap (\d+): \S", re.MULTILINE)
OUTSIDE_POINTERS = ("../shared", "shared/CONTRACT", "DESIGN trap")


def project_files(*suffixes: str) -> Iterator[Path]:
    """The repository's files with these suffixes, skipping hidden folders (.venv, .git...)."""
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = sorted(d for d in dirs if not (
            d.startswith(".") or d in SKIP_DIRS or d.endswith(".egg-info")))
        for name in sorted(files):
            if name.endswith(suffixes):
                yield Path(folder, name)


def trap_headings() -> list[int]:
    return [int(n) for n in TRAP_HEADING.findall(ARCHITECTURE.read_text(encoding="utf-8"))]


def test_the_documents_exist():
    assert ARCHITECTURE.is_file(), ARCHITECTURE
    assert CONTRACT.is_file(), CONTRACT


def test_trap_headings_are_numbered_once_each_in_order():
    numbers = trap_headings()
    assert numbers, f"no '### Trap N: ...' headings in {ARCHITECTURE}"
    assert numbers == list(range(1, len(numbers) + 1)), numbers


def test_every_trap_cited_in_the_code_has_its_heading():
    headings = set(trap_headings())
    missing = []
    for path in project_files(".py"):
        if path == Path(__file__).resolve():
            continue  # the examples in this file's comments
        text = path.read_text(encoding="utf-8", errors="replace")
        for match in TRAP_CITATION.finditer(text):
            for number in re.findall(r"\d+", match.group(1)):
                if int(number) not in headings:
                    line = text.count("\n", 0, match.start()) + 1
                    missing.append(f"{path.relative_to(ROOT)}:{line}: trap {number}")
    assert not missing, "cited traps without a heading in docs/architecture.md:\n" + "\n".join(
        missing)


def test_nothing_outside_tests_points_at_documents_outside_the_repository():
    found = []
    for path in project_files(".py", ".js", ".html", ".md"):
        if path.relative_to(ROOT).parts[0] == "tests":
            continue
        for number, line in enumerate(
                path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{number}: {needle!r}"
                      for needle in OUTSIDE_POINTERS if needle in line]
    assert not found, ("point at docs/architecture.md (traps) or docs/contract.md instead:\n"
                       + "\n".join(found))
