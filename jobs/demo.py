"""A demonstration job kind: N steps of a given duration. For tests and the demo only."""

from __future__ import annotations

import time
from argparse import ArgumentParser
from typing import Any

from jobs.kinds import CommandLine, JobKind, JobOutcome, StartRefused
from jobs.models import Job
from jobs.numbers import fmt_count, fmt_number
from jobs.progress import Reporter
from jobs.services import job_start

KIND = "demo"
MAX_STEPS = 100_000
MAX_DELAY = 5.0


def demo_start(*, owner_id: int, steps: int, delay: float, fail_every: int = 0,
               crash_at: int | None = None, stamp: bool = False) -> Job:
    """Start a demonstration job; ValueError when steps or delay are out of bounds."""
    if not (1 <= steps <= MAX_STEPS) or not (0 <= delay <= MAX_DELAY):
        raise ValueError(f"steps must be 1..{fmt_number(MAX_STEPS)}, delay "
                         f"0..{fmt_number(MAX_DELAY)}.")
    return job_start(
        kind=KIND,
        owner_id=owner_id,
        title=f"Demo: {fmt_count(steps, 'step')}",
        params={"steps": steps, "delay": delay, "fail_every": fail_every, "crash_at": crash_at,
                "stamp": stamp},
    )


def run_demo(job: Job, reporter: Reporter) -> JobOutcome:
    """Sleep `delay` seconds per step; optionally fail item `fail_every` or raise at `crash_at`."""
    steps = int(job.params.get("steps", 10))
    delay = float(job.params.get("delay", 0.05))
    fail_every = int(job.params.get("fail_every", 0))
    crash_at = job.params.get("crash_at")
    # bench/push.py: the message carries the wall-clock time of the Reporter call.
    stamp = bool(job.params.get("stamp"))
    reporter.set_total(steps)
    for step in range(1, steps + 1):
        reporter.check_cancelled()
        time.sleep(delay)  # the "work" of this job kind
        if crash_at is not None and step == int(crash_at):
            raise RuntimeError(f"demo crash at step {step}")
        if fail_every and step % fail_every == 0:
            reporter.fail_item(reason=f"Step {step} failed on purpose")
        else:
            message = (f"{time.time():.6f}" if stamp
                       else f"Step {fmt_number(step)} of {fmt_number(steps)}")
            reporter.advance(message=message)
    return JobOutcome(message=f"{fmt_count(steps, 'step')} done")


def _arguments(parser: ArgumentParser) -> None:
    parser.add_argument("--steps", type=int, default=20, help="how many steps (default 20)")
    parser.add_argument("--delay", type=float, default=0.05,
                        help="seconds per step (default 0.05)")


def _start(owner: Any, options: dict[str, Any]) -> Job:
    try:
        return demo_start(owner_id=owner.pk, steps=options["steps"], delay=options["delay"])
    except ValueError as exc:
        raise StartRefused(str(exc)) from None


DEMO = JobKind(
    name=KIND,
    run=run_demo,
    command=CommandLine(help="a demonstration job: N steps of a given length",
                        add_arguments=_arguments, start=_start),
)
