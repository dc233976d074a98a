"""Push one job's snapshot to its owner's sockets, on every server."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from jobs.broadcast import Broadcaster
from jobs.broadcast import broadcaster as default_broadcaster
from jobs.groups import JOB_UPDATE, update_frame, user_group
from jobs.models import Job
from jobs.snapshot import job_snapshot


class PushedVersions:
    """The highest version of each job this process pushed, for the most recent jobs.

    jobs/watch.py reads it so that a server does not push again what it pushed itself. Bounded:
    a forgotten job costs at most one repeated push of a version clients already have (they
    keep the highest).
    """

    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def note(self, job_id: Any, version: int) -> None:
        key = str(job_id)
        with self._lock:
            if self._versions.get(key, 0) < version:
                self._versions[key] = version
            self._versions.move_to_end(key)
            while len(self._versions) > self.limit:
                self._versions.popitem(last=False)

    def has(self, job_id: Any, version: int) -> bool:
        """Whether this process already pushed `version` (or a later one) of the job."""
        with self._lock:
            return self._versions.get(str(job_id), 0) >= version


pushed = PushedVersions()


def publish_job(job: Job, *, sender: Broadcaster | None = None) -> dict:
    """Push a job's snapshot to its owner's group and return the snapshot.

    `JobQuerySet.transition` calls this right after the change it pushes was written, and
    jobs/watch.py for rows another process changed. The group message carries the WebSocket
    frame already encoded: one `json.dumps` per update instead of one per socket, and a str is
    all the in-process layer deep-copies per channel (bench/push.py).
    """
    snapshot = job_snapshot(job)
    pushed.note(job.pk, job.version)
    (sender or default_broadcaster).send(
        user_group(job.owner_id), {"type": JOB_UPDATE, "frame": update_frame(snapshot)}
    )
    return snapshot
