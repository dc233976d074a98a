"""Agreements and many unsigned users, fast (bulk insert, one unusable password)."""

from __future__ import annotations

import itertools
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from campaigns.models import Acceptance, Agreement
from jobs.models import Job
from jobs.runner import runner
from tests.factories import make_user

_seq = itertools.count(1)


def make_agreement(*, slug: str | None = None, title: str = "Terms & Conditions",
                   version: int = 1) -> Agreement:
    n = next(_seq)
    return Agreement.objects.create(slug=slug or f"terms-{n}", title=title, version=version,
                                    body="1. Be nice.\n2. Read the terms.")


def make_users(count: int, *, prefix: str | None = None) -> list[str]:
    """Create `count` active users with emails; return their addresses in creation order."""
    prefix = prefix or f"r{next(_seq)}"
    password = make_password(None)
    users = [get_user_model()(username=f"{prefix}-{i:05d}", email=f"{prefix}-{i:05d}@example.test",
                              password=password, is_active=True) for i in range(count)]
    get_user_model().objects.bulk_create(users, batch_size=1000)
    return [u.email for u in users]


def make_audience(count: int, *, owner_email: str, slug: str | None = None,
                  prefix: str | None = None) -> tuple[Any, Agreement, list[str]]:
    """A staff owner who accepted (so gets only the summary), an agreement, `count` unsigned."""
    owner = make_user(staff=True, email=owner_email)
    agreement = make_agreement(slug=slug)
    Acceptance.objects.create(user=owner, agreement=agreement)
    return owner, agreement, make_users(count, prefix=prefix)


def job_ended(job: Job, timeout: float = 60) -> Job:
    """Wait for this process's runner thread that runs the job (its future), then read the row."""
    future = runner.futures.get(str(job.pk))
    if future is not None:
        future.result(timeout=timeout)
    job.refresh_from_db()
    assert job.is_terminal, job.status
    return job
