"""Print a Python >= 3.12 for the Django 6.1 leg of `make test`, or nothing (exit status 1).

Django 6 needs Python 3.12 or newer; the first leg of `make test` runs on `python3` with
Django 5.2. Looked for, in this order: the newest pyenv version 3.12-3.14 (`pyenv versions
--bare`), then python3.14, python3.13, python3.12 and python3 on PATH; `make test
PYTHON61=/path/to/python` skips the search. Each candidate is run: a pyenv shim on PATH exists
even when its version is not selected, and a Debian python3.12 without python3.12-venv cannot
make a venv. Standard library only: `make` runs this with the bare python3, before any venv.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

SUPPORTED = ((3, 12), (3, 14))  # Django 6.1's Python versions
PROBE = "import sys, ensurepip, venv; print(sys.executable, *sys.version_info[:2])"


def probe(python: str) -> str | None:
    """The interpreter's real path when it is a supported version that can make a venv."""
    try:
        out = subprocess.run(
            [python, "-c", PROBE],
            capture_output=True,
            text=True,
            timeout=20,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    try:
        path, major, minor = out.stdout.split()
    except ValueError:
        return None
    if not SUPPORTED[0] <= (int(major), int(minor)) <= SUPPORTED[1]:
        return None
    return path


def pyenv_candidates() -> list[str]:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return []
    try:
        root = subprocess.run(
            [pyenv, "root"], capture_output=True, text=True, timeout=20, check=True
        ).stdout.strip()
        bare = subprocess.run(
            [pyenv, "versions", "--bare"], capture_output=True, text=True, timeout=20, check=True
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return []
    # Plain releases only (no "3.13.0t", "3.14-dev", virtualenvs); the newest first.
    versions = sorted(
        (tuple(map(int, v.split("."))) for v in bare if re.fullmatch(r"3\.\d+\.\d+", v)),
        reverse=True,
    )
    return [
        str(Path(root, "versions", ".".join(map(str, v)), "bin", "python3"))
        for v in versions
        if SUPPORTED[0] <= v[:2] <= SUPPORTED[1]
    ]


def candidates() -> list[str]:
    on_path = [shutil.which(name) for name in ("python3.14", "python3.13", "python3.12", "python3")]
    return pyenv_candidates() + [p for p in on_path if p]


def main() -> int:
    for python in candidates():
        path = probe(python)
        if path:
            print(path)
            return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
