"""Registry of job kinds: each kind names the function that runs it in the background."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.models import Job
    from jobs.progress import Reporter

logger = logging.getLogger(__name__)


@dataclass
class JobOutcome:
    """What a job function returns when it ends well."""

    message: str = "Done"
    result_file: str = ""
    result_name: str = ""
    expires_at: datetime | None = None
    data: dict = field(default_factory=dict)
    status: str = "succeeded"


JobFunction = Callable[["Job", "Reporter"], "JobOutcome | None"]
# Called when a job of this kind ends in any other way (clean up partial files...).
CleanupFunction = Callable[["Job"], None]
# Starts a new job that continues (campaigns) or retries (exports) a finished one.
ResumeFunction = Callable[["Job", int], "Job"]


@dataclass(frozen=True)
class JobKind:
    """What the runner needs to know about one kind of job."""

    run: JobFunction
    cleanup: CleanupFunction | None = None
    resume: ResumeFunction | None = None

    def clean_up(self, job: Job) -> None:
        """Run the cleanup hook, if any; a failing cleanup is logged, never raised."""
        if self.cleanup is None:
            return
        try:
            self.cleanup(job)
        except Exception:
            logger.exception("job %s: cleanup failed", job.pk)


_REGISTRY: dict[str, JobKind] = {}


def register(kind: str, run: JobFunction, *, cleanup: CleanupFunction | None = None,
             resume: ResumeFunction | None = None) -> None:
    """Make `kind` runnable; registering the same kind twice replaces it (autoreload)."""
    _REGISTRY[kind] = JobKind(run=run, cleanup=cleanup, resume=resume)


def get(kind: str) -> JobKind:
    """The registered kind, or raise KeyError."""
    return _REGISTRY[kind]


def resumer(kind: str) -> ResumeFunction | None:
    """The kind's resume hook, if it has one."""
    entry = _REGISTRY.get(kind)
    return entry.resume if entry else None


def registered() -> list[str]:
    return sorted(_REGISTRY)
