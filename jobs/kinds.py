"""Registry of job kinds: everything the shared machinery needs to know about one kind.

The runner, the services, the sweeper and `manage.py run_job` ask the kind; they never name
exports or campaigns. A kind is registered from its app's `ready()`.
"""

from __future__ import annotations

import logging
from argparse import ArgumentParser
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.models import Job
    from jobs.progress import Reporter

logger = logging.getLogger(__name__)

# Only an unsuccessful ending can be continued or retried; success is final.
RESUMABLE_STATUSES = frozenset({"interrupted", "cancelled", "failed"})


@dataclass
class JobOutcome:
    """What a job function returns when it ends well."""

    message: str = "Done"
    result_file: str = ""
    result_name: str = ""
    expires_at: datetime | None = None
    data: dict = field(default_factory=dict)
    status: str = "succeeded"


class StartRefused(Exception):
    """The command line's input cannot start a job; the message says why (exit status 2)."""


@dataclass(frozen=True)
class CommandLine:
    """How `manage.py run_job <kind>` starts one job of a kind."""

    help: str
    # Adds the kind's own arguments to its `run_job <kind>` subcommand.
    add_arguments: Callable[[ArgumentParser], None]
    # (owner, parsed options) -> the queued Job, through the kind's own start service;
    # raises StartRefused for bad input or a missing permission of the owner.
    start: Callable[[Any, dict[str, Any]], Job]


JobFunction = Callable[["Job", "Reporter"], "JobOutcome | None"]
# Called once per ending, after the row is final and the job's code has stopped: by the
# runner (any ending of a job it ran), by the interrupt paths for a job no thread of this
# process runs, and by the stale sweep. `notes` is what the run left in `Reporter.notes`
# ({} when the job's process is gone). Must be idempotent: two servers may both notice.
EndHook = Callable[["Job", dict[str, Any]], None]
# Starts a new job that continues (campaigns) or retries (exports) a finished one.
ResumeFunction = Callable[["Job", int], "Job"]
# The job's done/failed counted from the kind's own records (campaigns: its recipient rows),
# once no code of the job writes them any more. Every ending applies it to the row, so the
# card, the API, the admin, `run_job` and the summary email all say the same numbers.
Tally = Callable[["Job"], dict[str, int]]


@dataclass(frozen=True)
class JobKind:
    """One kind of job: how it runs, ends, resumes, starts from a shell, and its chores."""

    name: str
    run: JobFunction
    on_end: EndHook | None = None
    resume: ResumeFunction | None = None
    command: CommandLine | None = None
    # (function, every seconds): run by each process's monitor thread (jobs.process).
    periodic: tuple[tuple[Callable[[], object], float], ...] = ()
    # (user, job params) -> may this user start such a job, and see the ones they started?
    # params None asks "any job of this kind" (what the dashboard offers). permitted None:
    # any active staff member. Asked at every request: rights can be taken away.
    permitted: Callable[[Any, dict[str, Any] | None], bool] | None = None
    # None: what the Reporter counted is the truth (the thread that did the work counted it).
    counts: Tally | None = None
    # How a person goes on with an ended, resumable job of this kind, as the end of a sentence
    # naming the dashboard's button for it: "retry it from the dashboard (Retry runs …)".
    # `run_job` prints it after Ctrl-C; empty: a neutral sentence (see next_step).
    resume_hint: str = ""
    # (job params) -> one line a person reads about what the job works on, e.g. an export's
    # filters "Status: Paid · Created at: from 2024-01-01" (the admin's job list and detail).
    describe: Callable[[dict[str, Any]], str] | None = None

    def allows(self, user: Any, params: dict[str, Any] | None) -> bool:
        """Whether `user` may start (or still see) a job of this kind with these params."""
        if not (user.is_active and user.is_staff):
            return False
        return self.permitted is None or bool(self.permitted(user, params))

    def can_resume(self, status: str) -> bool:
        """Whether a job of this kind that ended with `status` can be resumed or retried."""
        return self.resume is not None and status in RESUMABLE_STATUSES

    def next_step(self, resumable: bool) -> str:
        """What can be done with a job of this kind that just stopped, true to what the
        dashboard offers: only a resumable job gets a button there."""
        if resumable:
            return self.resume_hint or ("resume it from the dashboard or the admin's "
                                        "Resume / retry action")
        if self.resume is None:
            return f"{self.name} jobs cannot be resumed; run the command again to start over"
        return "run the command again to start it over"

    def details(self, params: dict[str, Any] | None) -> str:
        """The `describe` line for these params; "" without one or when it fails."""
        if self.describe is None:
            return ""
        try:
            return self.describe(params or {})
        except Exception:
            logger.exception("the description of a %r job failed", self.name)
            return ""

    def tally(self, job: Job) -> dict[str, int] | None:
        """{"done", "failed"} from the kind's records, or None (no tally, or it failed)."""
        if self.counts is None:
            return None
        try:
            truth = self.counts(job)
        except Exception:
            logger.exception("job %s: the tally of %r failed", job.pk, self.name)
            return None
        return {"done": int(truth["done"]), "failed": int(truth["failed"])}

    def ended(self, job: Job, notes: dict[str, Any] | None = None) -> None:
        """Run the end-of-job hook, if any; a failing hook is logged, never raised."""
        if self.on_end is None:
            return
        try:
            self.on_end(job, notes or {})
        except Exception:
            logger.exception("job %s: the end-of-job hook of %r failed", job.pk, self.name)


_REGISTRY: dict[str, JobKind] = {}


def register(kind: JobKind) -> None:
    """Make a kind runnable; registering the same name twice replaces it (autoreload)."""
    _REGISTRY[kind.name] = kind


def unregister(name: str) -> None:
    """Forget a kind (tests that register throwaway kinds)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> JobKind:
    """The registered kind, or raise KeyError."""
    return _REGISTRY[name]


def find(name: str) -> JobKind | None:
    """The registered kind, or None."""
    return _REGISTRY.get(name)


def every() -> list[JobKind]:
    """All registered kinds, by name."""
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


def resumable_kinds(status: str) -> list[str]:
    """Names of the kinds that can resume a job that ended with `status`."""
    return [name for name, kind in _REGISTRY.items() if kind.can_resume(status)]


def ended(job: Job, notes: dict[str, Any] | None = None) -> None:
    """Run the end-of-job hook of the job's kind (nothing for an unknown kind)."""
    kind = find(job.kind)
    if kind is not None:
        kind.ended(job, notes)


def tally(job: Job) -> dict[str, int] | None:
    """The true counts of a job whose code has stopped, from its kind (None: keep the row's)."""
    kind = find(job.kind)
    return kind.tally(job) if kind is not None else None


def allows(user: Any, job: Job) -> bool:
    """Whether `user` may see this job as far as its kind is concerned (unknown kinds: staff)."""
    kind = find(job.kind)
    if kind is None:
        return bool(user.is_active and user.is_staff)
    return kind.allows(user, job.params or {})
