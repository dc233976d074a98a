"""The export job: database rows -> xlsx/csv in a temporary file -> Django storage."""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection
from django.utils import timezone

from exports.describe import export_filename
from exports.pipeline import ahead, inline
from exports.reading import export_rows, reads_ahead
from exports.registry import export_type
from exports.selectors import export_queryset
from exports.writers import column_widths, open_writer, zone_headers
from jobs.kinds import JobOutcome
from jobs.models import Job
from jobs.numbers import fmt_count, fmt_number
from jobs.progress import Reporter

logger = logging.getLogger(__name__)

KIND = "export"
STORAGE_DIR = "exports"
# Chunks the reader thread may hold ready (EXPORT_CHUNK_SIZE rows each, ~2 MB of Python
# values at 2,000 rows): enough to smooth the database's pace, a bound on memory.
READ_AHEAD = 1


def temp_dir() -> Path:
    path = Path(settings.EXPORT_TMP_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def temp_path(job_id: Any, fmt: str) -> Path:
    """Where a running export writes; the name carries the job id so cleanup can judge it."""
    return temp_dir() / f"{job_id}.{fmt}.part"


def storage_dir(job_id: Any) -> str:
    return f"{STORAGE_DIR}/{job_id}"


_UTC_NAMES = {"UTC", "Etc/UTC"}


def site_tz():
    """None when the site runs on UTC: the database's aware UTC values are then already right."""
    tz = timezone.get_default_timezone()
    return None if str(tz) in _UTC_NAMES else tz


def site_zone_name() -> str:
    """The zone the export's date/time values are written in, as its headers name it: the
    site's (`DJANGO_TIME_ZONE`, see site_tz and trap 10), "UTC" for any spelling of UTC."""
    name = timezone.get_default_timezone_name()
    return "UTC" if name in _UTC_NAMES else name


def _first_rows(chunks: Iterator[list], rows: int) -> list[list]:
    """The first chunks, enough of them for `rows` rows (at least one chunk)."""
    first: list[list] = []
    seen = 0
    while not first or seen < rows:
        batch = next(chunks, None)
        if not batch:
            break
        first.append(batch)
        seen += len(batch)
    return first


class _TempFile(File):
    """A finished temporary file: FileSystemStorage moves it instead of copying it."""

    def temporary_file_path(self) -> str:
        return self.file.name


def run_export(job: Job, reporter: Reporter) -> JobOutcome:
    """Stream the rows in chunks into the file, report per chunk, save through storage.

    With EXPORT_PIPELINE (default) the stages overlap (exports/pipeline.py): this thread
    builds each chunk's XML or CSV, checks cancel and reports (only this thread touches the
    Reporter), the writer's thread deflates and writes behind it and, on PostgreSQL, a reader
    thread on its own connection and server-side cursor stays READ_AHEAD chunks ahead.
    Not on SQLite: its module releases the GIL around every row's sqlite3_step, so a reader
    thread beside a busy builder waits for the GIL once a row (convoy): 300,000 rows took
    6.53 s with a reader thread, 5.48 s without (and 6.47 s with no thread at all).
    psycopg releases it once per FETCH of EXPORT_CHUNK_SIZE rows. On SQLite this thread reads
    through one cursor on a private connection (exports.reading.private_cursor_chunks).
    """
    entry = export_type(job.params["claim_type"])
    fmt = job.params.get("format", "xlsx")
    filters = job.params.get("filters") or {}
    chunk = max(100, int(settings.EXPORT_CHUNK_SIZE))
    # Rows only the caller's open transaction can see (a test inside one) must be read on its
    # connection; a reader thread only where the read releases the GIL in long stretches.
    threaded = bool(settings.EXPORT_PIPELINE) and not connection.in_atomic_block
    read_ahead = reads_ahead(threaded=threaded)
    reporter.set_message("Counting rows")
    total = export_queryset(entry=entry, filters=filters).count()
    reporter.set_total(total)
    path = temp_path(job.pk, fmt)

    def read():
        # Threaded: no open transaction holds rows only this connection sees, so the read
        # may have a connection of its own (the reader thread's; on SQLite a private one).
        return export_rows(entry=entry, filters=filters, chunk_size=chunk,
                           own_connection=threaded)

    writer = None
    try:
        reading = (ahead(read, depth=READ_AHEAD, name=f"export-read-{job.pk}") if read_ahead
                   else inline(read))
        with reading as chunks:
            # Widths before the first row, from the headers and the first EXPORT_WIDTH_SAMPLE
            # rows (docs/architecture.md, trap 9), whatever the chunk size.
            first = _first_rows(chunks, settings.EXPORT_WIDTH_SAMPLE)
            columns = zone_headers(entry.resolved, site_zone_name())
            widths = column_widths(columns, itertools.islice(itertools.chain(*first),
                                                             settings.EXPORT_WIDTH_SAMPLE))
            chunks = itertools.chain(first, chunks)
            batch = next(chunks, [])
            writer = open_writer(
                fmt, str(path), engine=settings.EXPORT_XLSX_ENGINE, title=entry.title,
                columns=columns, widths=widths, tz=site_tz(),
                compresslevel=settings.EXPORT_XLSX_COMPRESSLEVEL, background=threaded,
            )
            while batch:
                reporter.check_cancelled()
                writer.write_rows(batch)
                done = reporter.done + len(batch)
                if done > (reporter.total or 0):  # rows added since the count
                    reporter.set_total(done)
                reporter.advance(len(batch),
                                 message=f"Writing rows: {fmt_number(done)} of "
                                         f"{fmt_number(reporter.total)}")
                batch = next(chunks, [])
        reporter.check_cancelled()
        writer.close()
        writer = None
        reporter.set_message("Saving the file")
        written = reporter.done
        if reporter.total != written:
            reporter.set_total(written)  # rows deleted since the count
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        filename = export_filename(entry, filters, fmt, stamp)
        size = path.stat().st_size
        with open(path, "rb") as handle:
            name = default_storage.save(f"{storage_dir(job.pk)}/{filename}", _TempFile(handle))
    finally:
        if writer is not None:
            writer.abort()
        path.unlink(missing_ok=True)
    expires = timezone.now() + timezone.timedelta(hours=settings.EXPORT_EXPIRY_HOURS)
    return JobOutcome(
        message=f"{fmt_count(written, 'row')} exported",
        result_file=name,
        result_name=filename,
        expires_at=expires,
        data={"rows": written, "format": fmt, "bytes": size, "claim_type": entry.key,
              "engine": settings.EXPORT_XLSX_ENGINE if fmt == "xlsx" else "csv"},
    )


def cleanup_export(job: Job) -> None:
    """After a cancel/failure/stop: no temp file, no stored file."""
    for fmt in ("xlsx", "csv"):
        temp_path(job.pk, fmt).unlink(missing_ok=True)
    delete_stored(job.pk)


def delete_stored(job_id: Any) -> int:
    """Delete everything stored under exports/<job id>/; returns how many files."""
    folder = storage_dir(job_id)
    try:
        _dirs, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in files:
        default_storage.delete(f"{folder}/{name}")
    _remove_empty_dir(folder)
    return len(files)


def _remove_empty_dir(folder: str) -> None:
    try:
        local = default_storage.path(folder)
    except NotImplementedError:  # object storage has no folders
        return
    with contextlib.suppress(OSError):
        os.rmdir(local)
