"""The query parameters of GET /api/jobs/ (docs/contract.md): parsed and checked before any
read, each bad value a 400 with a sentence saying what would be accepted."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import QueryDict

from jobs import kinds
from jobs.models import Job, JobStatus
from jobs.selectors import jobs_cursor
from realtime_site.api import ApiError

MAX_LIMIT = 200
MAX_Q = 100


@dataclass(frozen=True)
class ListQuery:
    limit: int
    kinds_in: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    q: str = ""
    before: Job | None = None


def _values(params: QueryDict, name: str) -> list[str]:
    """A comma-separated list (`a,b`), given once. As strict as docs/openapi.json says (no
    spaces, no empty item): what the document refuses, the server refuses (tests/contract)."""
    return _one(params, name).split(",") if name in params else []


def _one(params: QueryDict, name: str) -> str:
    values = params.getlist(name)
    if len(values) > 1:
        raise ApiError(f"Give `{name}` once.", 400)
    return values[0] if values else ""


def parse_list_query(params: QueryDict, *, user: Any) -> ListQuery:
    """A ListQuery, or raise ApiError(400)."""
    kind_names = [kind.name for kind in kinds.every()]
    wanted_kinds = _values(params, "kind")
    unknown = [name for name in wanted_kinds if name not in kind_names]
    if unknown:
        raise ApiError(f"Unknown job kind {unknown[0][:40]!r}: give one or more of "
                       f"{', '.join(kind_names)}, separated by commas.", 400,
                       choices=kind_names)
    statuses = list(JobStatus.values)
    wanted_statuses = _values(params, "status")
    unknown = [name for name in wanted_statuses if name not in statuses]
    if unknown:
        raise ApiError(f"Unknown status {unknown[0][:40]!r}: give one or more of "
                       f"{', '.join(statuses)}, separated by commas.", 400, choices=statuses)

    q = _one(params, "q")
    if len(q) > MAX_Q:
        raise ApiError(f"`q` is at most {MAX_Q} characters.", 400)
    # PostgreSQL refuses NUL in text (a 500 otherwise); no title holds control characters.
    if any(ord(char) < 32 or ord(char) == 127 for char in q):
        raise ApiError("`q` must be plain text, without control characters.", 400)
    q = q.strip()

    raw_limit = _one(params, "limit")
    limit = settings.JOBS_RECENT_LIMIT
    if "limit" in params:
        # Length first: int() of thousands of digits raises (Python's digit limit).
        if len(raw_limit) > 3 or not raw_limit.isascii() or not raw_limit.isdigit() or not (
                1 <= int(raw_limit) <= MAX_LIMIT):
            raise ApiError(f"`limit` must be a whole number from 1 to {MAX_LIMIT}.", 400)
        limit = int(raw_limit)

    before = None
    raw_before = _one(params, "before")
    if "before" in params:
        try:
            # The document's pattern: the canonical lowercase form only.
            key = uuid.UUID(raw_before)
            if str(key) != raw_before:
                raise ValueError(raw_before)
        except ValueError:
            raise ApiError("`before` must be a job id (the `next_before` of the previous "
                           "page).", 400) from None
        before = jobs_cursor(user=user, job_id=key)
        if before is None:
            raise ApiError("`before` is not one of your jobs: use the `next_before` of the "
                           "previous page.", 400)
    return ListQuery(limit=limit, kinds_in=tuple(wanted_kinds),
                     statuses=tuple(wanted_statuses), q=q, before=before)
