"""Job rows changed by other processes, pushed by the server when its channel layer cannot.

With REDIS_URL every process publishes to the shared layer: a job run by `manage.py run_job`
in a shell reaches every server's sockets directly. On the embedded default the layer is
`InMemoryChannelLayer`, one per process: the shell's pushes go to its own layer, which no
socket reads, while its writes land in the shared database. So a server on that layer
watches the table: every JOBS_WATCH_INTERVAL (1 s) one indexed range query reads the jobs
whose `updated_at` moved since it last looked, and each row this process has not pushed at
that version itself, nor is about to push (jobs/pushed.py), goes out through the normal
publish path.

What it gives and costs, per server: a change made elsewhere reaches the sockets within about
one interval, as the row's latest state (intermediate progress of the same second is
coalesced, which the version rule allows); one query a second that returns only the rows
changed in the last few seconds (the `updated_at` index; README, "Measured"). Its own jobs'
changes are not pushed twice: their versions were noted when they were pushed, and a row
being changed here is marked from its write to its push.

Started by jobs.process.start(server=True) under daphne only (not in a foreground job, a
test client or a worker), and only on the in-process layer.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from jobs.models import Job
from jobs.publish import publish_job
from jobs.pushed import pushed
from jobs.ticker import Ticker

# A row is read again for this long after its `updated_at`: the time is taken before the
# UPDATE, and the transaction may commit later (a job created inside a request's
# transaction, a slow SQLite lock wait). Rows re-read at a version already pushed cost nothing.
OVERLAP = timedelta(seconds=5)
# At most this many rows per look; the next look goes on from the last one read.
BATCH = 500
IN_PROCESS_LAYER = "channels.layers.InMemoryChannelLayer"


def needed() -> bool:
    """Whether pushes of other processes cannot reach this one's sockets (in-process layer)."""
    backend = settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", "")
    return backend == IN_PROCESS_LAYER and settings.JOBS_WATCH_INTERVAL > 0


class Watcher(Ticker):
    name = "jobs-watch"
    close_each_round = False  # a look every second: keep the connection

    def __init__(self) -> None:
        super().__init__()
        self._since: datetime | None = None
        self._floor: datetime | None = None  # the first look: nothing older is replayed
        self._overlap = OVERLAP
        self.count = 0  # rows pushed for other processes (tests, logs)

    def interval(self) -> float:
        return settings.JOBS_WATCH_INTERVAL

    def wanted(self) -> bool:
        return needed()

    def tick(self) -> int:
        """One look: push the rows changed since the last one that this process has not
        pushed at that version; returns how many were pushed."""
        if self._since is None:  # first look: from now on, not the table's history
            latest = Job.objects.aggregate(latest=Max("updated_at"))["latest"]
            self._since = self._floor = max(latest, timezone.now()) if latest else timezone.now()
            return 0
        start = max(self._floor, self._since - self._overlap)
        rows = list(Job.objects.filter(updated_at__gte=start)
                    .order_by("updated_at", "pk")[:BATCH])
        count = 0
        for job in rows:
            if pushed.mine(job.pk, job.version):
                continue
            publish_job(job)
            count += 1
        if rows:
            self._since = max(self._since, rows[-1].updated_at)
        # A full batch: more rows changed than one look reads. The next look starts at the
        # last row read (no overlap), so it cannot read the same batch again and again.
        self._overlap = timedelta(0) if len(rows) == BATCH else OVERLAP
        self.count += count
        return count


watcher = Watcher()
