"""Push latency: from a Reporter call in a job thread to a WebSocket client.

    .venv/bin/python bench/push.py [--samples 150] [--clients 1,100]

Starts real daphne processes (in-process layer; Redis pub/sub layer; Redis core layer), runs
the demonstration job with `stamp` on (each progress message carries the wall-clock time of
the Reporter call that produced it) and measures arrival time minus that stamp at every
client. Then measures, in this process, what one send costs the calling thread: the
product's Broadcaster against a plain `async_to_sync(group_send)`.
Uses REDIS_URL when set, else a private redis-server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import ROOT, Daphne, Redis, collect_stamped, open_sockets, sqlite_env, summary_ms, table

INTERVAL = 0.05  # Reporter interval for the bench servers: more samples per second


async def measure(server: Daphne, clients: int, samples: int) -> list[float]:
    client, sockets = await open_sockets(server.url, clients)
    job_id: list[str] = []
    collecting = asyncio.create_task(
        collect_stamped(sockets, samples * INTERVAL * 4 + 60, job_id))
    response = await asyncio.to_thread(
        client.post, "/api/demo-jobs/", {"steps": samples, "delay": INTERVAL * 1.2, "stamp": True}
    )
    job_id.append(response.json()["job"]["id"])
    latencies = await collecting
    client.close()
    return latencies


def send_cost(layer: str, redis_url: str | None, calls: int) -> None:
    """Child process: per-call cost on the calling thread, Broadcaster vs async_to_sync."""
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
        os.environ["CHANNEL_LAYER_BACKEND"] = layer
    os.environ["DJANGO_SETTINGS_MODULE"] = "realtime_site.settings"
    os.environ.setdefault("DJANGO_VAR_DIR", tempfile.mkdtemp())
    import django

    django.setup()
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from jobs.broadcast import Broadcaster

    group = f"bench.{uuid.uuid4().hex[:8]}"
    message = {"type": "job.update", "job": {"id": "x", "done": 1, "message": "m" * 100}}
    layer_obj = get_channel_layer()
    naive = async_to_sync(layer_obj.group_send)
    naive(group, message)  # warm up
    start = time.perf_counter()
    for _ in range(calls):
        naive(group, message)
    naive_cost = (time.perf_counter() - start) / calls
    broadcaster = Broadcaster()
    broadcaster.send(group, message)
    broadcaster.wait_idle(10)
    start = time.perf_counter()
    for _ in range(calls):
        broadcaster.send(group, message)
    caller_cost = (time.perf_counter() - start) / calls
    broadcaster.wait_idle(60)
    drained = (time.perf_counter() - start) / calls
    print(json.dumps({"naive": naive_cost, "caller": caller_cost, "drained": drained}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=150)
    parser.add_argument("--clients", default="1,100")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--send-cost", help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send_cost:
        send_cost(args.send_cost, args.redis_url, args.calls)
        return

    redis = Redis()
    redis_url = redis.start()
    env = sqlite_env()
    env["JOBS_PROGRESS_INTERVAL"] = str(INTERVAL)
    log_dir = Path(tempfile.mkdtemp(prefix="rt-bench-logs-"))
    layers = {
        "in-process": {},
        "redis pubsub": {"REDIS_URL": redis_url, "CHANNEL_LAYER_BACKEND": "pubsub"},
        "redis core": {"REDIS_URL": redis_url, "CHANNEL_LAYER_BACKEND": "core"},
    }
    client_counts = [int(c) for c in args.clients.split(",")]
    rows = []
    try:
        for name, extra in layers.items():
            server = Daphne(env={**env, **extra, "CHANNEL_LAYER_PREFIX": uuid.uuid4().hex[:6]},
                            log_dir=log_dir).start()
            try:
                for count in client_counts:
                    latencies = asyncio.run(measure(server, count, args.samples))
                    median, p99 = summary_ms(latencies)
                    rows.append([name, count, len(latencies), median, p99,
                                 f"{max(latencies) * 1000:.1f}" if latencies else "-"])
                    print(f"  {name}, {count} client(s): median {median} ms, p99 {p99} ms",
                          flush=True)
            finally:
                server.stop()
        print("\nLatency, Reporter call in a job thread -> message at the WebSocket client")
        print(table(["layer", "clients", "samples", "median ms", "p99 ms", "max ms"], rows))

        cost_rows = []
        for name, layer, url in (("in-process", "", None), ("redis pubsub", "pubsub", redis_url),
                                 ("redis core", "core", redis_url)):
            cmd = [sys.executable, __file__, "--send-cost", layer or "memory",
                   "--calls", str(args.calls)]
            if url:
                cmd += ["--redis-url", url]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                                 cwd=ROOT).stdout.strip().splitlines()[-1]
            cost = json.loads(out)
            cost_rows.append([name, f"{cost['naive'] * 1e3:.3f}", f"{cost['caller'] * 1e3:.3f}",
                              f"{cost['naive'] / cost['caller']:.0f}x",
                              f"{cost['drained'] * 1e3:.3f}"])
        print("\nPer-call cost on the calling thread, same run "
              f"({args.calls} sends each; 'drained' = Broadcaster time until all were sent)")
        print(table(["layer", "async_to_sync(group_send) ms", "Broadcaster.send ms", "ratio",
                     "Broadcaster drained ms/send"], cost_rows))
    finally:
        redis.stop()


if __name__ == "__main__":
    main()
