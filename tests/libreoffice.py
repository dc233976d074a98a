"""LibreOffice headless (Debian's libreoffice-calc-nogui) as the spreadsheet program of the tests.

`convert(files, outdir, infilter=...)` opens every file in one soffice process and saves each
as xlsx in `outdir` (LibreOffice's own writer: what it understood, typed cells, formulas as
formulas), so one start-up (~1.5 s) serves many files. A private profile per test session
(-env:UserInstallation) keeps the user's own LibreOffice, and its locks, out of it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

from tests.exports.sheet_text import excel_decode
from tests.services import apt_install

PACKAGE = "libreoffice-calc-nogui"
# CSV import options: separator (44 ",", 59 ";"), text delimiter 34 ("), charset 76 (UTF-8),
# first line 1. LibreOffice then evaluates formulas, as a user opening the file would see.
CSV_COMMA = "CSV:44,34,76,1"
CSV_SEMICOLON = "CSV:59,34,76,1"


def find_soffice() -> str:
    """The soffice binary, installed from Debian when missing and root (as tests/system.py
    does for `make test`); otherwise a sentence saying what to install."""
    found = shutil.which("soffice")
    if found is None and apt_install(PACKAGE):
        found = shutil.which("soffice")
    if found is None:
        raise RuntimeError(f"soffice is missing: apt-get install {PACKAGE} (make test does "
                           "it when run as root)")
    return found


class LibreOffice:
    def __init__(self, soffice: str, profile: Path) -> None:
        self.soffice = soffice
        self.profile = profile

    def convert(self, files: list[Path], outdir: Path, *, infilter: str | None = None
                ) -> dict[Path, Path]:
        """Each of `files` saved by LibreOffice as xlsx in `outdir`: {input: output}."""
        outdir.mkdir(parents=True, exist_ok=True)
        command = [self.soffice, f"-env:UserInstallation={self.profile.as_uri()}",
                   "--headless", "--norestore", "--convert-to", "xlsx", "--outdir", str(outdir)]
        if infilter:
            command.append(f"--infilter={infilter}")
        env = {**os.environ, "HOME": str(self.profile)}  # nothing written to the real home
        result = subprocess.run([*command, *map(str, files)], capture_output=True, text=True,
                                timeout=180, env=env, check=False)
        out = {f: outdir / f"{f.stem}.xlsx" for f in files}
        missing = [str(f) for f, o in out.items() if not o.exists()]
        if result.returncode != 0 or missing:
            raise RuntimeError(f"soffice exited {result.returncode}, no output for {missing}:\n"
                               f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        return out


_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"


def shared_text(path: Path) -> dict[str, str]:
    """openpyxl's value of each shared string in `path` -> the text Excel shows. openpyxl
    reads a shared string with .replace("x005F_", "") and decodes no other _xHHHH_ escape
    (inline strings: none at all); LibreOffice writes every string as a shared one, with its
    control characters as _xHHHH_."""
    with zipfile.ZipFile(path) as zf:
        if "xl/sharedStrings.xml" not in zf.namelist():
            return {}
        root = ET.fromstring(zf.read("xl/sharedStrings.xml"))
    out: dict[str, str] = {}
    for si in root.iter(f"{_MAIN}si"):
        raw = "".join(t.text or "" for t in si.iter(f"{_MAIN}t"))
        decoded = excel_decode(raw)
        if out.setdefault(raw.replace("x005F_", ""), decoded) != decoded:
            raise AssertionError(f"two shared strings read the same in openpyxl: {raw!r}")
    return out
