"""How an export reads its rows: keyset pages, or one server-side cursor on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from typing import Any

from django.db import connections, transaction
from django.db.models import QuerySet
from django.db.models.sql.constants import MULTI

from exports.registry import ExportType
from exports.selectors import export_chunks, export_queryset


def uses_cursor(*, own_connection: bool, using: str = "default") -> bool:
    """Whether `export_rows` reads through one cursor rather than keyset pages (see there)."""
    conn = connections[using]
    if conn.vendor == "sqlite":
        return own_connection
    return (conn.vendor == "postgresql"
            and not conn.settings_dict.get("DISABLE_SERVER_SIDE_CURSORS")
            and (own_connection or conn.in_atomic_block))


def reads_ahead(*, threaded: bool, using: str = "default") -> bool:
    """Whether an export reads in a thread of its own: only where the read releases the GIL
    in long stretches, PostgreSQL's server-side cursor (exports.jobs.export_job says why)."""
    return (threaded and connections[using].vendor == "postgresql"
            and uses_cursor(own_connection=True, using=using))


def export_rows(*, entry: ExportType, filters: dict[str, Any] | None = None,
                chunk_size: int = 2000, own_connection: bool = False) -> Iterator[list[tuple]]:
    """The rows of an export in chunks of `chunk_size`, memory flat whatever the row count.

    PostgreSQL: one server-side cursor in one transaction (`cursor_chunks`), when nothing
    else writes on this connection meanwhile (`own_connection`: the export's reader thread)
    or when the caller's transaction is open anyway. Otherwise, and on SQLite, keyset pages
    (`exports.selectors.export_chunks`): on SQLite the rows are read on the job thread, whose
    connection also writes the progress, and a connection holding a read cursor cannot write
    once another has written (docs/architecture.md, trap 14). DISABLE_SERVER_SIDE_CURSORS
    (PgBouncer in transaction mode) means keyset pages too: without a named cursor psycopg
    would fetch the whole result into memory. 1,000,000 rows on PostgreSQL: keyset pages
    12.7 s, the cursor 4.4 s (with the timestamptz loader of `cursor_chunks`).

    SQLite with `own_connection` (the caller's transaction does not hold rows it must see):
    one cursor on a private connection (`private_cursor_chunks`), 1,000,000 rows in 8.4 s
    where keyset pages take 10.6 s.
    """
    if uses_cursor(own_connection=own_connection):
        qs = export_queryset(entry=entry, filters=filters)
        if connections[qs.db].vendor == "sqlite":
            return private_cursor_chunks(qs, chunk_size)
        return cursor_chunks(qs, chunk_size)
    return export_chunks(entry=entry, filters=filters, chunk_size=chunk_size)


def private_cursor_chunks(qs: QuerySet, chunk_size: int) -> Iterator[list[tuple]]:
    """SQLite: the queryset's rows through one cursor on a connection of their own.

    Trap 14 is about one connection that both holds a read cursor and writes: the job's own
    connection writes progress while it exports, so it reads in keyset pages there. A second
    connection that only reads may keep its cursor: in WAL mode its snapshot blocks no writer
    (the WAL only grows past it until the read ends). Same SQL, same converters.
    """
    private = connections[qs.db].copy()
    fetched = None
    try:
        compiler = qs.query.get_compiler(connection=private)
        fetched = compiler.execute_sql(MULTI, chunked_fetch=True, chunk_size=chunk_size)
        rows = compiler.results_iter(fetched, tuple_expected=True, chunked_fetch=True,
                                     chunk_size=chunk_size)
        while chunk := list(islice(rows, chunk_size)):
            yield chunk
    finally:
        # The cursor first (an export stopped early): closed after its connection, its
        # generator raised "Cannot operate on a closed database" when collected.
        if fetched is not None:
            fetched.close()
        private.close()


def cursor_chunks(qs: QuerySet, chunk_size: int) -> Iterator[list[tuple]]:
    """The queryset's rows through one server-side cursor, `chunk_size` rows a FETCH.

    The queryset's own SQL (its filters) and Django's converters (`results_iter`); only the
    timestamptz loader differs: Django's is a Python subclass of psycopg's Python loader
    (~4.6 µs a value), so 1,000,000 accident claims (two timestamptz columns) took 10.7 s to
    read through it and 4.4 s with psycopg's C loader on the cursor (COPY ... TO STDOUT in
    binary: 4.0 s, not worth leaving the ORM's cursor and converters for). The transaction
    is what keeps the result on the server: in autocommit Django declares a WITH HOLD
    cursor, which PostgreSQL materializes whole before the first FETCH.
    """
    conn = connections[qs.db]
    compiler = qs.query.get_compiler(using=qs.db)
    sql, params = compiler.as_sql()
    with transaction.atomic(using=qs.db), conn.chunked_cursor() as cursor:
        adapters = getattr(cursor.cursor, "adapters", None)  # psycopg 3, not psycopg2
        if adapters is not None and conn.timezone is not None:
            # USE_TZ: Django's loader only re-labels values already in the session's time
            # zone, which Django sets to conn.timezone; the C loader gives the same instants.
            from psycopg.types.datetime import TimestamptzLoader

            adapters.register_loader("timestamptz", TimestamptzLoader)  # the C one if built
        cursor.execute(sql, params)
        fetched = iter(lambda: cursor.fetchmany(chunk_size), [])
        rows = compiler.results_iter(fetched, tuple_expected=True)
        while chunk := list(islice(rows, chunk_size)):
            yield chunk
