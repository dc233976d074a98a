"""How an export reads its rows on SQLite: one cursor on a private connection when it may."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exports.models import AccidentClaim
from exports.reading import export_rows
from exports.registry import export_type
from tests.exports.factories import make_accidents

pytestmark = pytest.mark.django_db(transaction=True)


def test_own_connection_reads_through_one_private_cursor_while_this_one_writes():
    """Trap 14: a connection holding a read cursor cannot write once another has written. The
    read holds its cursor on a connection of its own, so the job's connection (progress) and
    any other (a request, the heartbeat) keep writing while the rows stream."""
    make_accidents(250)
    entry = export_type("accident")
    with CaptureQueriesContext(connection) as on_this_connection:  # this thread's
        chunks = export_rows(entry=entry, chunk_size=100, own_connection=True)
        first = next(chunks)
        other = connection.copy()  # another connection writes...
        with other.cursor() as cursor:
            cursor.execute("UPDATE exports_accidentclaim SET customer_name = 'x'")
        other.close()
        # ...then this one: with the read cursor here it would be "database is locked".
        AccidentClaim.objects.update(customer_name="y")
        rest = list(chunks)
    assert len(first) + sum(len(chunk) for chunk in rest) == 250
    reads = [q["sql"] for q in on_this_connection.captured_queries
             if "exports_accidentclaim" in q["sql"] and q["sql"].startswith("SELECT")]
    assert reads == []  # no page was read on this connection


def test_in_the_callers_transaction_it_reads_keyset_pages_on_its_connection():
    """Rows only the caller's open transaction sees: the read must stay on its connection."""
    from django.db import transaction

    with transaction.atomic():
        make_accidents(250)
        rows = sum(len(c) for c in export_rows(entry=export_type("accident"), chunk_size=100,
                                               own_connection=False))
    assert rows == 250
