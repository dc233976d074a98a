"""Push one job's snapshot to its owner's sockets, on every server."""

from __future__ import annotations

from jobs.broadcast import Broadcaster
from jobs.broadcast import broadcaster as default_broadcaster
from jobs.groups import JOB_UPDATE, update_frame, user_group
from jobs.models import Job
from jobs.pushed import pushed
from jobs.snapshot import job_snapshot


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
