"""The export's threads (exports/pipeline.py): bounded, stopped on every exit, none left behind."""

from __future__ import annotations

import threading
import zipfile
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.db import connection, connections

from exports.pipeline import Behind, ahead
from jobs.models import JobStatus
from tests.exports.factories import (
    CancelAfterFirstChunk,
    export_now,
    export_threads,
    make_accidents,
)
from tests.factories import make_user


# --- ahead: a producer thread in front of the caller -------------------------------------
def test_ahead_hands_over_every_item_in_order_then_ends():
    with ahead(lambda: iter(range(50)), depth=2, name="export-read-t") as items:
        assert list(items) == list(range(50))
    assert export_threads() == []


def test_leaving_early_stops_the_producer_and_closes_its_source():
    produced, closed = [], threading.Event()

    def endless():
        try:
            n = 0
            while True:
                produced.append(n)
                yield n
                n += 1
        finally:
            closed.set()

    with pytest.raises(KeyError), ahead(endless, depth=2, name="export-read-t") as items:
        assert next(items) == 0
        raise KeyError("the job stopped")  # cancel, an error: any way out
    assert export_threads() == []  # joined on the way out
    assert closed.is_set()  # its generator closed: a cursor would be
    # Bounded: the item taken, `depth` queued, one waiting to be put.
    assert len(produced) <= 1 + 2 + 1


def test_a_producer_error_is_raised_in_the_caller_at_its_item():
    def failing():
        yield "first"
        raise ConnectionError("database went away")

    with ahead(failing, depth=2, name="export-read-t") as items:
        assert next(items) == "first"
        with pytest.raises(ConnectionError, match="went away"):
            next(items)
    assert export_threads() == []


@pytest.mark.django_db(transaction=True)
def test_the_producer_thread_closes_its_own_database_connection():
    seen = {}

    def rows():
        seen["connection"] = connections["default"]  # this thread's own wrapper
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            yield cursor.fetchone()

    with ahead(rows, depth=1, name="export-read-t") as items:
        assert list(items) == [(1,)]
    assert seen["connection"] is not connections["default"]  # another thread's
    assert seen["connection"].connection is None  # closed when its thread ended


# --- Behind: a consumer thread after the caller ------------------------------------------
def test_behind_writes_everything_in_order_before_close_returns():
    got = []
    sink = Behind(got.append, depth=2, name="export-deflate-t")
    for n in range(100):
        sink.put(n)
    sink.close()
    assert got == list(range(100)) and export_threads() == []


def test_a_failing_sink_raises_its_error_in_put_and_close():
    def full_disk(item):
        raise OSError(28, "No space left on device")

    sink = Behind(full_disk, depth=2, name="export-deflate-t")
    with pytest.raises(OSError, match="No space"):
        for n in range(10):  # the sink fails on the first; a later put sees it
            sink.put(n)
    with pytest.raises(OSError, match="No space"):
        sink.close()
    assert export_threads() == []


def test_abort_drops_what_is_queued_and_joins():
    started, release, got = threading.Event(), threading.Event(), []

    def slow(item):
        started.set()
        release.wait()
        got.append(item)

    sink = Behind(slow, depth=2, name="export-deflate-t")
    sink.put("a")
    started.wait()
    sink.put("b")
    sink.put("c")
    sink._channel.close()  # what abort() does first, so that "b" and "c" are dropped
    release.set()
    sink.abort()
    assert got == ["a"] and export_threads() == []


# --- the export job ------------------------------------------------------------------------
@pytest.fixture
def _exports(settings, tmp_path):
    settings.EXPORT_TMP_DIR = tmp_path / "export-tmp"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.EXPORT_CHUNK_SIZE = 100
    settings.EXPORT_WIDTH_SAMPLE = 100


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_cancel_within_a_chunk_stops_the_writer_thread(_exports, settings, fmt):
    user = make_user(staff=True)
    make_accidents(700)
    seen = {}

    def factory(job):
        reporter = CancelAfterFirstChunk(job)
        seen["reporter"] = reporter
        return reporter

    job = export_now(owner_id=user.pk, claim_type="accident", fmt=fmt, reporter_factory=factory)
    assert job.status == JobStatus.CANCELLED and job.done == 100
    assert seen["reporter"].notes["threads"]  # the writer thread ran beside the job
    assert export_threads() == []
    assert not default_storage.exists(f"exports/{job.pk}")
    assert not list(Path(settings.EXPORT_TMP_DIR).glob("*"))


@pytest.mark.django_db(transaction=True)
def test_a_deflate_thread_that_fails_fails_the_export_and_leaves_nothing(_exports, settings,
                                                                         monkeypatch):
    write = zipfile._ZipWriteFile.write

    def full_disk(self, data):
        if threading.current_thread().name.startswith("export-deflate"):
            raise OSError(28, "No space left on device")
        return write(self, data)

    monkeypatch.setattr(zipfile._ZipWriteFile, "write", full_disk)
    user = make_user(staff=True)
    make_accidents(500)
    job = export_now(owner_id=user.pk, claim_type="accident")
    assert job.status == JobStatus.FAILED
    assert job.error == "OSError: [Errno 28] No space left on device"
    assert export_threads() == []
    assert not default_storage.exists(f"exports/{job.pk}")
    assert not list(Path(settings.EXPORT_TMP_DIR).glob("*"))


def _content(job) -> bytes:
    path = default_storage.path(job.result_file)
    if job.result_file.endswith(".csv"):
        return Path(path).read_bytes()
    with zipfile.ZipFile(path) as zf:  # the parts, not the zip's time stamps
        return b"".join(zf.read(name) for name in sorted(zf.namelist()))


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_threads_change_nothing_in_the_file(_exports, settings, fmt):
    user = make_user(staff=True)
    make_accidents(450)
    settings.EXPORT_PIPELINE = False
    serial = export_now(owner_id=user.pk, claim_type="accident", fmt=fmt)
    settings.EXPORT_PIPELINE = True
    threaded = export_now(owner_id=user.pk, claim_type="accident", fmt=fmt)
    assert serial.status == threaded.status == JobStatus.SUCCEEDED
    assert _content(serial) == _content(threaded)
