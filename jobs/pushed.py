"""What this process pushes and is about to push, per job: for jobs/watch.py.

A server on the in-process layer pushes the job rows other processes change (jobs/watch.py);
it must not push again what it pushes itself, or a client would get one version twice (the
version rule makes that harmless, but it is noise, and a test pins strictly growing
versions). Two records, both bounded:

- the highest version of each job `publish_job` sent (`note`);
- the jobs being changed here right now (`begin` … `end`): between a transition's UPDATE (or
  commit) and its push, the row is already readable at a version not noted yet. A mark left
  by a rolled-back transaction (its on-commit push never runs) expires after BUSY_FOR.

No imports from the rest of jobs/: models.py, publish.py and watch.py all use it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

BUSY_FOR = 30.0  # seconds; a push follows its write within milliseconds


class PushedVersions:
    def __init__(self, limit: int = 10_000) -> None:
        self.limit = limit
        self._versions: OrderedDict[str, int] = OrderedDict()
        self._busy: dict[str, tuple[int, float]] = {}  # job id -> (open marks, last begin)
        self._lock = threading.Lock()

    def note(self, job_id: Any, version: int) -> None:
        """`publish_job` sent this version of the job."""
        key = str(job_id)
        with self._lock:
            if self._versions.get(key, 0) < version:
                self._versions[key] = version
            self._versions.move_to_end(key)
            while len(self._versions) > self.limit:
                self._versions.popitem(last=False)

    def begin(self, job_id: Any) -> None:
        """A change of the job is being written here; its push follows."""
        key = str(job_id)
        with self._lock:
            count, _since = self._busy.get(key, (0, 0.0))
            self._busy[key] = (count + 1, time.monotonic())

    def end(self, job_id: Any) -> None:
        key = str(job_id)
        with self._lock:
            count, since = self._busy.get(key, (1, 0.0))
            if count <= 1:
                self._busy.pop(key, None)
            else:
                self._busy[key] = (count - 1, since)

    def mine(self, job_id: Any, version: int) -> bool:
        """Whether this process pushed `version` (or a later one) of the job, or is about to
        push the change it is writing."""
        key = str(job_id)
        with self._lock:
            if self._versions.get(key, 0) >= version:
                return True
            busy = self._busy.get(key)
            if busy is None:
                return False
            if time.monotonic() - busy[1] > BUSY_FOR:
                del self._busy[key]
                return False
            return True


pushed = PushedVersions()
