"""Install what the test suite needs from Debian when it is missing (root only).

Run by `make test` before pytest: redis-server when no REDIS_URL, PostgreSQL when no
DATABASE_URL, chromium for the browser tests, libreoffice-calc-nogui (soffice) for the
LibreOffice tests. Without root, a missing piece is reported and the tests that need it fail
with a sentence saying so.
"""

from __future__ import annotations

import os
import shutil
import sys

from tests.services import _pg_bin, apt_install


def main() -> int:
    wanted = []
    if not os.environ.get("REDIS_URL") and not shutil.which("redis-server"):
        wanted.append("redis-server")
    if not os.environ.get("DATABASE_URL") and _pg_bin("initdb") is None:
        wanted.append("postgresql")
    if not shutil.which("chromium"):
        wanted.append("chromium")
    if not shutil.which("soffice"):
        wanted.append("libreoffice-calc-nogui")
    if not wanted:
        return 0
    print(f"installing {' '.join(wanted)} with apt-get…", flush=True)
    if not apt_install(*wanted):
        print(f"could not install {' '.join(wanted)} (not root, or apt-get failed); the tests "
              "that need them will fail.", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
