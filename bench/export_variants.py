"""The variants of bench/export.py, each run in a child process (`child(variant, ...)`).

Every function returns {"seconds", "rows", "bytes", ...}; the parent adds the child's peak RSS.
"""

from __future__ import annotations

import csv
import itertools
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLAIM_TYPE = "accident"
# Rows read once for the build and deflate stages alone: 50 chunks of 2,000, then cycled.
SAMPLE_ROWS = 100_000
LEVELS = range(1, 10)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _owner_id() -> int:
    from django.contrib.auth import get_user_model

    user, _ = get_user_model().objects.get_or_create(
        username="bench", defaults={"is_staff": True, "is_superuser": True})
    return user.pk


def _quiet_reporter():
    from jobs.progress import Reporter

    class QuietReporter(Reporter):
        """Counts, but never writes or pushes until the end."""

        def _touch(self) -> None:
            self._dirty = True

        def check_cancelled(self) -> None:
            return None

        def set_total(self, total: int) -> None:
            self.total = total

    return QuietReporter


def _timed_reporter():
    from jobs.progress import Reporter

    class TimedReporter(Reporter):
        """The real Reporter, with the time spent inside its calls added up."""

        spent = 0.0

    def timed(name):
        method = getattr(Reporter, name)

        def wrapper(self, *args, **kwargs):
            started = time.perf_counter()
            try:
                return method(self, *args, **kwargs)
            finally:
                self.spent += time.perf_counter() - started

        return wrapper

    for name in ("advance", "set_total", "set_message", "check_cancelled"):
        setattr(TimedReporter, name, timed(name))
    return TimedReporter


def count_rows(path: Path, fmt: str) -> tuple[int, int]:
    """(data rows, sheets) of the file, read back: openpyxl read-only for xlsx (every sheet:
    past 1,048,575 rows an export continues on "<title> (2)"), the csv module for CSV."""
    if fmt == "csv":
        with open(path, encoding="utf-8-sig", newline="") as handle:
            return sum(1 for _ in csv.reader(handle)) - 1, 1
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        return sum(sum(1 for _ in ws.iter_rows(values_only=True)) - 1
                   for ws in wb.worksheets), len(wb.worksheets)
    finally:
        wb.close()


def product(fmt: str = "xlsx", quiet: bool = False, verify: bool = False) -> dict:
    from django.core.files.storage import default_storage

    from exports.services import export_start
    from jobs.process import run_foreground

    owner = _owner_id()
    counted = {}

    def factory(job):
        reporter = (_quiet_reporter() if quiet else _timed_reporter())(job)
        counted["reporter"] = reporter
        return reporter

    started = time.perf_counter()
    job = run_foreground(
        create=lambda: export_start(owner_id=owner, claim_type=CLAIM_TYPE, fmt=fmt),
        reporter_factory=factory,
    )
    seconds = time.perf_counter() - started
    assert job.status == "succeeded", job.error
    size = default_storage.size(job.result_file)
    result = {"seconds": seconds, "rows": job.done, "bytes": size,
              "flushes": counted["reporter"].flushes,
              "progress_seconds": getattr(counted["reporter"], "spent", 0.0)}
    if verify:  # read back by the parent in another process: not in this one's peak
        kept = Path(default_storage.path(job.result_file)).with_name(f"verify.{fmt}")
        Path(default_storage.path(job.result_file)).rename(kept)
        result["verify_path"] = str(kept)
    default_storage.delete(job.result_file)
    return result


def chunks(*, keyset: bool = False, cursor: bool = False):
    """The product's read (exports.reading.export_rows, as its reader thread calls it), or
    keyset pages whatever the database, or one Django cursor (`qs.iterator`) on SQLite."""
    from django.conf import settings

    from exports.registry import export_type
    from exports.selectors import export_chunks, export_queryset

    entry, size = export_type(CLAIM_TYPE), settings.EXPORT_CHUNK_SIZE
    if keyset:
        return export_chunks(entry=entry, chunk_size=size)
    if cursor:
        it = export_queryset(entry=entry).iterator(chunk_size=size)
        return iter(lambda: list(itertools.islice(it, size)), [])
    from exports.reading import export_rows

    return export_rows(entry=entry, chunk_size=size, own_connection=True)


def read_only(**how) -> dict:
    started = time.perf_counter()
    rows = sum(len(chunk) for chunk in chunks(**how))
    return {"seconds": time.perf_counter() - started, "rows": rows, "bytes": 0}


def _sample() -> list[list[tuple]]:
    out, n = [], 0
    for chunk in chunks():
        out.append(chunk)
        n += len(chunk)
        if n >= SAMPLE_ROWS:
            break
    return out


def _writer(path: str, level: int = 1):
    from exports.jobs import site_tz
    from exports.registry import export_type
    from exports.xlsx import XlsxWriter

    entry = export_type(CLAIM_TYPE)
    return XlsxWriter(path, title=entry.title, columns=entry.resolved,
                      widths=[10.0] * len(entry.columns), tz=site_tz(), compresslevel=level)


def stage_build(rows: int) -> dict:
    """Building and encoding the row XML alone, `rows` rows from a cycled in-memory sample:
    XlsxWriter.write_rows with the zip write replaced by nothing."""
    sample = _sample()
    with tempfile.TemporaryDirectory() as tmp:
        writer = _writer(f"{tmp}/build.xlsx")
        writer._write = lambda data: None
        started = time.perf_counter()
        done = 0
        for chunk in itertools.cycle(sample):
            done += writer.write_rows(chunk[: rows - done])
            if done >= rows:
                break
        seconds = time.perf_counter() - started
        writer.abort()
    return {"seconds": seconds, "rows": done, "bytes": 0}


def stage_deflate(rows: int) -> dict:
    """Deflate + CRC + file write alone, per zlib level, of the sample's XML (prebuilt),
    scaled from the sample's rows to `rows`; also the compressed size so scaled."""
    sample = _sample()
    with tempfile.TemporaryDirectory() as tmp:
        writer = _writer(f"{tmp}/xml.xlsx")
        built: list[bytes] = []
        writer._write = built.append
        for chunk in sample:
            writer.write_rows(chunk)
        writer.abort()
        sampled = writer.rows_written
        levels = {}
        for level in LEVELS:
            path = f"{tmp}/deflate-{level}.zip"
            started = time.perf_counter()
            with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as zf, \
                    zf.open("sheet1.xml", "w", force_zip64=True) as sheet:
                for data in built:
                    sheet.write(data)
            seconds = time.perf_counter() - started
            levels[level] = {"seconds": seconds * rows / sampled,
                             "bytes": os.path.getsize(path) * rows / sampled}
            os.unlink(path)
    return {"seconds": levels[1]["seconds"], "rows": rows, "bytes": levels[1]["bytes"],
            "levels": levels, "sampled_rows": sampled,
            "xml_bytes": sum(map(len, built)) * rows / sampled}


def _naive(tz):
    def convert(row):
        return [v.astimezone(tz).replace(tzinfo=None) if hasattr(v, "tzinfo") and v.tzinfo
                else v for v in row]

    return convert


def seed(path: Path) -> dict:
    """The article: Workbook(), a thin border on every cell, auto-width by scanning all cells."""
    from django.utils import timezone
    from openpyxl import Workbook
    from openpyxl.styles import Border, Font, Side
    from openpyxl.utils import get_column_letter

    from exports.registry import export_type

    entry = export_type(CLAIM_TYPE)
    convert = _naive(timezone.get_default_timezone())
    started = time.perf_counter()
    wb = Workbook()
    ws = wb.active
    ws.append([c.header for c in entry.columns])
    thin = Side(style="thin")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    rows = 0
    for chunk in chunks(keyset=True):
        for row in chunk:
            ws.append(convert(row))
            rows += 1
    for row in ws.iter_rows():
        for cell in row:
            cell.border = border
    for col in ws.columns:
        width = max(len(str(c.value)) if c.value is not None else 0 for c in col)
        ws.column_dimensions[get_column_letter(col[0].column)].width = width + 2
    wb.save(path)
    return {"seconds": time.perf_counter() - started, "rows": rows,
            "bytes": path.stat().st_size}


def xlsxwriter_export(path: Path) -> dict:
    import xlsxwriter
    from django.utils import timezone

    from exports.registry import export_type
    from exports.writers import column_widths

    entry = export_type(CLAIM_TYPE)
    cols = entry.resolved
    convert = _naive(timezone.get_default_timezone())
    started = time.perf_counter()
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet(entry.title)
    header = wb.add_format({"bold": True, "bg_color": "#DDEBF7"})
    formats = [wb.add_format({"num_format": c.number_format}) if c.number_format else None
               for c in cols]
    source = chunks()
    first = next(source, [])
    for i, width in enumerate(column_widths(cols, first)):
        ws.set_column(i, i, width)
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, [c.header for c in cols], header)
    r = 0
    choices = [c.choices for c in cols]
    for chunk in itertools.chain([first], source):  # lazily: [first, *chunks] loads all
        for row in chunk:
            r += 1
            for c, value in enumerate(convert(row)):
                if choices[c] and value is not None:
                    value = choices[c].get(value, value)
                fmt = formats[c]
                if value is None:
                    continue
                if fmt is not None:
                    ws.write(r, c, value, fmt)
                else:
                    ws.write(r, c, value)
    ws.autofilter(0, 0, r, len(cols) - 1)
    wb.close()
    return {"seconds": time.perf_counter() - started, "rows": r, "bytes": path.stat().st_size}


def configure(variant: str) -> None:
    """Environment for a variant, before Django reads its settings."""
    if variant.startswith("product-level"):
        os.environ["EXPORT_XLSX_COMPRESSLEVEL"] = variant.removeprefix("product-level")
    if variant in ("product-serial", "product-csv-serial"):
        os.environ["EXPORT_PIPELINE"] = "0"
    if variant in ("product-openpyxl", "openpyxl-nolxml"):
        os.environ["EXPORT_XLSX_ENGINE"] = "openpyxl"
    if variant == "openpyxl-nolxml":
        os.environ["OPENPYXL_LXML"] = "False"


def child(variant: str, workdir: Path, rows: int, verify: bool) -> dict:
    if variant.startswith("verify:"):
        return read_back(Path(variant.removeprefix("verify:")))
    configure(variant)
    setup_django()
    if variant == "openpyxl-nolxml":
        import openpyxl.xml

        assert not openpyxl.xml.LXML
    if variant.startswith("product-csv"):
        return product(fmt="csv", verify=verify)
    if variant == "product-quiet":
        return product(quiet=True)
    if variant.startswith("product") or variant == "openpyxl-nolxml":
        return product(verify=verify)
    if variant == "read-only":
        return read_only()
    if variant == "read-keyset":
        return read_only(keyset=True)
    if variant == "read-cursor":
        return read_only(cursor=True)
    if variant == "stage-build":
        return stage_build(rows)
    if variant == "stage-deflate":
        return stage_deflate(rows)
    out = workdir / f"out-{variant}.xlsx"
    if variant == "seed":
        result = seed(out)
    elif variant == "xlsxwriter":
        result = xlsxwriter_export(out)
        if verify:
            kept = out.with_name("verify.xlsx")
            out.rename(kept)
            result["verify_path"] = str(kept)
    else:
        raise SystemExit(f"unknown variant {variant}")
    out.unlink(missing_ok=True)
    return result


def read_back(path: Path) -> dict:
    """Count the data rows of a file a variant kept, then delete it."""
    started = time.perf_counter()
    rows, sheets = count_rows(path, "csv" if path.suffix == ".csv" else "xlsx")
    path.unlink()
    return {"rows_read_back": rows, "sheets_read_back": sheets,
            "seconds": time.perf_counter() - started}
