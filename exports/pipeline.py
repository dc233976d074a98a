"""Bounded hand-offs between the export's threads: the reader, the job thread, the deflater.

An export has three stages: read the rows, build their XML (or CSV), deflate and write it.
Building holds the GIL; sqlite3/psycopg while they wait on the database, and zlib, crc32 and
file writes, release it. Run one after the other on one core they took 28.9 s for 1,000,000
rows (read 9.8 s); with the read in a thread `ahead` of the job thread and the deflate in a
thread `behind` it, the second core does the GIL-free part (README, "Exports").

`Channel` is the one primitive: a queue of at most `depth` items with an end and an error,
closable from either side, so memory is bounded by `depth` items and neither side can be left
blocked: a consumer that stops (cancel, an error) closes it and the producer's next `put`
returns False; a producer that fails passes its exception, which the consumer's `get` raises.
Threads are joined on every exit path; none is a daemon, none is left behind
(tests/exports/test_pipeline.py).
"""

from __future__ import annotations

import collections
import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import connections

_END = object()


class ChannelClosed(Exception):
    """The other side closed the channel (it stopped, or it failed: see __cause__)."""


class Channel:
    """A bounded queue between one producer thread and one consumer thread."""

    def __init__(self, depth: int) -> None:
        self._items: collections.deque = collections.deque()
        self._depth = max(1, depth)
        self._cond = threading.Condition()
        self._closed = False
        self._error: BaseException | None = None

    def put(self, item: Any) -> bool:
        """Wait for room, then add `item`; False (nothing added) once the channel is closed."""
        with self._cond:
            while len(self._items) >= self._depth and not self._closed:
                self._cond.wait()
            if self._closed or self._error is not None:
                return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self) -> Any:
        """The next item, or `_END`; raise the producer's error, or ChannelClosed."""
        with self._cond:
            while not self._items and not self._closed and self._error is None:
                self._cond.wait()
            if self._items:
                item = self._items.popleft()
                self._cond.notify_all()
                return item
            if self._error is not None:
                raise self._error
            raise ChannelClosed()

    def finish(self) -> None:
        """The producer is done: the consumer gets what is queued, then the end."""
        self.put(_END)

    def fail(self, error: BaseException) -> None:
        """The producer failed: the consumer gets what is queued, then `error` is raised."""
        with self._cond:
            if not self._closed and self._error is None:
                self._error = error
            self._cond.notify_all()

    def close(self, error: BaseException | None = None) -> None:
        """Stop both sides now: queued items are dropped, waiters wake up."""
        with self._cond:
            if not self._closed:
                self._closed = True
                self._error = error or self._error
            self._items.clear()
            self._cond.notify_all()

    @property
    def error(self) -> BaseException | None:
        return self._error


def _close_db_connections() -> None:
    """This thread's own database connections (Django opens one per thread)."""
    connections.close_all()


@contextlib.contextmanager
def ahead(make: Callable[[], Iterable[Any]], *, depth: int, name: str
          ) -> Iterator[Iterator[Any]]:
    """Iterate `make()` in a thread of its own, up to `depth` items ahead of the caller.

    The thread opens its own database connection (closed when it ends). Leaving the block for
    any reason closes the channel, which stops the thread at its next item, and joins it; an
    exception in the thread is raised in the caller at the item where it happened.
    """
    channel = Channel(depth)

    def produce() -> None:
        source = None
        try:
            source = iter(make())
            for item in source:
                if not channel.put(item):
                    return  # the caller left: stop reading
            channel.finish()
        except BaseException as exc:  # handed to the caller, who raises it
            channel.fail(exc)
        finally:
            if source is not None and hasattr(source, "close"):
                with contextlib.suppress(Exception):
                    source.close()  # a generator: its cursor and transaction end here
            _close_db_connections()

    thread = threading.Thread(target=produce, name=name)
    thread.start()

    def consume() -> Iterator[Any]:
        while (item := channel.get()) is not _END:
            yield item

    try:
        yield consume()
    finally:
        channel.close()
        thread.join()


class Behind:
    """Run `sink(item)` in a thread of its own on what the caller `put`s, `depth` items behind.

    `put` raises the sink's error once the sink has failed; `close`
    waits for the sink to drain and raises its error; `abort` drops what is queued. Both join
    the thread.
    """

    def __init__(self, sink: Callable[[Any], None], *, depth: int, name: str) -> None:
        self._sink = sink
        self._channel = Channel(depth)
        self._thread = threading.Thread(target=self._run, name=name)
        self._thread.start()

    def _run(self) -> None:
        try:
            while (item := self._channel.get()) is not _END:
                self._sink(item)
        except ChannelClosed:
            return  # aborted
        except BaseException as exc:  # raised in the caller's next put or close
            self._channel.close(exc)

    def put(self, item: Any) -> None:
        if not self._channel.put(item):
            raise self._channel.error or ChannelClosed("the writer thread was aborted")

    def close(self) -> None:
        self._channel.finish()
        self._thread.join()
        if self._channel.error is not None:
            raise self._channel.error

    def abort(self) -> None:
        self._channel.close()
        self._thread.join()


@contextlib.contextmanager
def inline(make: Callable[[], Iterable[Any]]) -> Iterator[Iterator[Any]]:
    """The same interface as `ahead`, in the calling thread (EXPORT_PIPELINE off, or rows only
    the caller's own transaction can see)."""
    source = iter(make())
    try:
        yield source
    finally:
        if hasattr(source, "close"):
            source.close()
