"""Registry of job kinds: each kind names the function that runs it in the background."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jobs.models import Job
    from jobs.progress import Reporter


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

_REGISTRY: dict[str, tuple[JobFunction, CleanupFunction | None]] = {}
_RESUMERS: dict[str, ResumeFunction] = {}


def register(kind: str, run: JobFunction, *, cleanup: CleanupFunction | None = None,
             resume: ResumeFunction | None = None) -> None:
    """Make `kind` runnable; registering the same kind twice replaces it (autoreload)."""
    _REGISTRY[kind] = (run, cleanup)
    if resume is not None:
        _RESUMERS[kind] = resume
    else:
        _RESUMERS.pop(kind, None)


def get(kind: str) -> tuple[JobFunction, CleanupFunction | None]:
    """Return (run, cleanup) for a kind, or raise KeyError."""
    return _REGISTRY[kind]


def resumer(kind: str) -> ResumeFunction | None:
    """The kind's resume hook, if it has one."""
    return _RESUMERS.get(kind)


def registered() -> list[str]:
    return sorted(_REGISTRY)
