"""What `rtjobs` writes while it follows a job: one bar redrawn in place on a terminal, plain
lines (no carriage returns, no escapes) when the output is a pipe or a file."""

from __future__ import annotations

import shutil
import time
from typing import TextIO

PLAIN_EVERY = 2.0  # seconds between two plain progress lines of the same status


def _count(value) -> str:
    return "?" if value is None else f"{value:,}"


def _duration(seconds) -> str:
    if seconds is None:
        return "–"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes = f"{rest // 60:02d}" if hours else f"{rest // 60}"
    return (f"{hours}:" if hours else "") + f"{minutes}:{rest % 60:02d}"


def figures(job: dict) -> str:
    """`5,200/13,000  40.0%  2,601/s  ETA 0:03`, from the JOB's own fields."""
    done = (job.get("done") or 0) + (job.get("failed") or 0)
    parts = [f"{done:,}/{_count(job.get('total'))}"]
    if job.get("percent") is not None:
        parts.append(f"{job['percent']:.1f}%")
    if job.get("rate") is not None:
        parts.append(f"{job['rate']:,.0f}/s")
    if job.get("status") == "running" and job.get("eta_seconds") is not None:
        parts.append(f"ETA {_duration(job['eta_seconds'])}")
    if job.get("failed"):
        parts.append(f"{job['failed']:,} failed")
    return "  ".join(parts)


def describe(job: dict) -> str:
    """The line that ends a follow: status, figures and the message or error."""
    tail = job.get("error") or job.get("message") or ""
    return f"{job.get('status')}: {figures(job)}" + (f"  {tail}" if tail else "")


class Progress:
    """Renders successive JOB snapshots of one job on `stream`."""

    def __init__(self, stream: TextIO, *, tty: bool | None = None) -> None:
        self.stream = stream
        self.tty = stream.isatty() if tty is None else tty
        self.last_status: str | None = None
        self.last_line = 0.0
        self.drawn = False

    def update(self, job: dict) -> None:
        if self.tty:
            self._draw(job)
            return
        now = time.monotonic()
        if job.get("status") != self.last_status or now - self.last_line >= PLAIN_EVERY:
            self.last_status, self.last_line = job.get("status"), now
            message = job.get("message") or ""
            self._line(f"{job.get('status')}  {figures(job)}" + (f"  {message}" if message
                                                                     else ""))

    def note(self, text: str) -> None:
        """A line of its own (a reconnect, a warning); on a terminal the bar is drawn again
        below it at the next update."""
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
            self.drawn = False
        self._line(text)

    def finish(self, job: dict) -> None:
        if self.tty:
            self._draw(job)
            self.stream.write("\n")
            self.drawn = False
        self._line(describe(job))

    def _line(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def _draw(self, job: dict) -> None:
        width = shutil.get_terminal_size((80, 24)).columns
        percent = job.get("percent")
        cells = 20
        filled = round(cells * min(100.0, percent or 0.0) / 100)
        bar = "[" + "#" * filled + "-" * (cells - filled) + "]"
        text = f"{job.get('status', ''):<9} {bar} {figures(job)}"
        if job.get("message"):
            text += f"  {job['message']}"
        self.stream.write("\r" + text[: max(10, width - 1)] + "\x1b[K")
        self.stream.flush()
        self.drawn = True
