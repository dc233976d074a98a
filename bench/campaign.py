"""Benchmark: the campaign job vs the seed's one-by-one `mail.send(priority='now')` loop.

    .venv/bin/python bench/campaign.py --recipients 10000
    .venv/bin/python bench/campaign.py --sinks relay --connections 4,8,16,24,32 --seed-limit 300

Same recipients, same post-office template, same run, against real local SMTP servers:
Postfix's `smtp-sink` (C; counts sessions itself), aiosmtpd (in its own process), and
"relay": aiosmtpd delaying every reply by --latency-ms (20), as a remote relay's round trip
would. `--connections` runs the campaign once per CAMPAIGN_CONNECTIONS value, each on an
agreement of its own (every user unsigned). On the relay, `--max-rate` runs one more campaign
under CAMPAIGN_MAX_RATE on `--rate-recipients` users and measures its pace from the sink's
receive times. Not a timed test. A fresh SQLite database in a temporary folder.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _free_port() -> int:
    from tests.services import free_port

    return free_port()


class SmtpSink:
    """Postfix's smtp-sink: `-c` prints sess=/mesg= counters."""

    name = "smtp-sink (postfix, C)"

    def start(self) -> int:
        self.port = _free_port()
        self.out = tempfile.TemporaryFile()  # noqa: SIM115 (read back in stop())
        self.proc = subprocess.Popen(
            ["smtp-sink", "-c", "-u", "nobody", f"127.0.0.1:{self.port}", "1024"],
            stdout=self.out, stderr=subprocess.STDOUT)
        from tests.services import wait_for_port

        wait_for_port("127.0.0.1", self.port, timeout=10, process=self.proc)
        return self.port

    def stop(self) -> dict:
        time.sleep(0.3)  # counters update when sessions end
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(10)
        self.out.seek(0)
        text = self.out.read().decode(errors="replace")
        sess, mesg = re.findall(r"sess=(\d+) quit=\d+ mesg=(\d+)", text)[-1]
        # minus wait_for_port's probe connection
        return {"connections": int(sess) - 1, "messages": int(mesg)}


class AioSink:
    def __init__(self, latency_ms: float = 0.0) -> None:
        self.latency_ms = latency_ms
        self.name = (f"aiosmtpd relay: {latency_ms:g} ms per reply (own process)" if latency_ms
                     else "aiosmtpd (Python, own process)")

    def start(self) -> int:
        self.port = _free_port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.campaigns.sink", "--port", str(self.port),
             "--latency-ms", str(self.latency_ms)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        return self.port

    def stop(self) -> dict:
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=20)
        counts = json.loads(out.strip().splitlines()[-1])
        counts["connections"] -= 1  # aiosmtpd's Controller connects to itself once at start
        return counts


def _smtp(port: int):
    from django.conf import settings

    from realtime_site.mail import transport_override

    return transport_override(
        "django.core.mail.backends.smtp.EmailBackend",
        {"host": "127.0.0.1", "port": port, "use_tls": False, "use_ssl": False,
         "username": "", "password": ""},
        timeout=settings.MAIL_TIMEOUT,
    )


def bench_agreement(slug: str, *, unsigned: int | None = None):
    """An agreement of its own for one campaign run, so that every run reminds the same users
    (no resend guard in the way); `unsigned`: everyone else has accepted it."""
    from django.contrib.auth import get_user_model

    from campaigns.models import Acceptance, Agreement

    agreement = Agreement.objects.create(slug=slug, title="Terms & Conditions", version=1,
                                         body="1. Be nice.")
    users = get_user_model().objects.order_by("pk").values_list("pk", flat=True)
    accepted = list(users[unsigned:]) if unsigned is not None else []
    accepted += list(users.filter(username="bench-owner"))
    Acceptance.objects.bulk_create([Acceptance(user_id=pk, agreement=agreement)
                                    for pk in set(accepted)], batch_size=2000)
    return agreement


def run_product(sink, owner, agreement, *, connections: int, max_rate: float = 0.0) -> dict:
    from django.test import override_settings

    from campaigns.models import Recipient
    from campaigns.services import campaign_start
    from jobs.models import Job
    from jobs.process import run_foreground

    port = sink.start()
    with _smtp(port), override_settings(CAMPAIGN_CONNECTIONS=connections,
                                        CAMPAIGN_MAX_RATE=max_rate):
        started = []
        # The runner's own path (execute), in this thread; timed from the row's creation.
        job = run_foreground(
            create=lambda: campaign_start(owner_id=owner.pk, agreement_id=agreement.pk),
            on_created=lambda _job: started.append(time.perf_counter()),
        )
        seconds = time.perf_counter() - started[0]
    counts = sink.stop()
    job = Job.objects.get(pk=job.pk)
    recorded = Recipient.objects.filter(job=job, status__in=["sent", "failed"]).count()
    # The sink's receive times of the reminders (the summary comes last): the pace it saw.
    received = counts.get("received_at", [])[:job.done]
    paced = (len(received) - 1) / (received[-1] - received[0]) if len(received) > 1 else None
    way = f"campaign job, {connections} connections" + (
        f", CAMPAIGN_MAX_RATE={max_rate:g}" if max_rate else "")
    return {"way": way, "emails": job.done, "failed": job.failed, "sink_rate": paced,
            "seconds": seconds, "client_connections": job.result.get("connections"),
            "server_connections": counts["connections"] - 1,  # minus the summary's
            "server_messages": counts["messages"] - 1, "recorded": recorded,
            "status": job.status, "snapshot_seconds": job.result.get("snapshot_seconds"),
            "send_seconds": job.result.get("send_seconds")}


def run_seed(sink, agreement, limit: int) -> dict:
    """The article's loop: one mail.send(priority='now') per unsigned user."""
    from django.conf import settings
    from post_office import mail
    from post_office.models import EmailTemplate

    from campaigns.links import acceptance_url
    from campaigns.selectors import users_unsigned
    from campaigns.services import REMINDER_TEMPLATE

    template = EmailTemplate.objects.get(name=REMINDER_TEMPLATE, language="")
    users = list(users_unsigned(agreement_id=agreement.pk).order_by("pk")
                 .values_list("pk", "email", "first_name", "username")[:limit])
    port = sink.start()
    with _smtp(port):
        started = time.perf_counter()
        sent = 0
        for user_id, address, first_name, username in users:
            email = mail.send(
                recipients=[address], sender=settings.DEFAULT_FROM_EMAIL, template=template,
                context={"name": first_name or username, "title": agreement.title,
                         "version": agreement.version, "expires_days": 30,
                         "link": acceptance_url(user_id=user_id, agreement_id=agreement.pk,
                                                version=agreement.version)},
                priority="now",
            )
            sent += email.status == 0
        seconds = time.perf_counter() - started
    counts = sink.stop()
    return {"way": "seed: mail.send(priority='now') loop", "emails": sent,
            "failed": len(users) - sent, "seconds": seconds, "client_connections": None,
            "server_connections": counts["connections"], "server_messages": counts["messages"],
            "recorded": sent, "status": ""}


def table(sink_name: str, rows: list[dict], seed: dict) -> str:
    """Each row against the seed loop's emails per second (the last row)."""
    base = seed["emails"] / seed["seconds"]
    lines = [f"\n{sink_name}",
             f"| {'way':<54} | {'emails':>6} | {'seconds':>7} | {'emails/s':>8} | "
             f"{'at sink/s':>9} | {'SMTP conns':>10} | {'vs seed':>8} |",
             f"|{'-' * 56}|{'-' * 8}|{'-' * 9}|{'-' * 10}|{'-' * 11}|{'-' * 12}|{'-' * 10}|"]
    for row in [*rows, seed]:
        rate = row["emails"] / row["seconds"] if row["seconds"] else 0
        at_sink = f"{row['sink_rate']:.2f}" if row.get("sink_rate") else "-"
        lines.append(f"| {row['way']:<54} | {row['emails']:>6} | {row['seconds']:>7.2f} | "
                     f"{rate:>8.1f} | {at_sink:>9} | {row['server_connections']:>10} | "
                     f"{(rate / base if base else 0):>7.1f}x |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--seed-limit", type=int, default=0,
                        help="Run the seed loop on only the first N recipients (0: all).")
    parser.add_argument("--sinks", default="smtp-sink,aiosmtpd,relay")
    parser.add_argument("--latency-ms", type=float, default=20.0,
                        help="the relay sink's delay before every reply")
    parser.add_argument("--connections", default="4",
                        help="CAMPAIGN_CONNECTIONS values, one campaign each (e.g. 4,8,16)")
    parser.add_argument("--max-rate", type=float, default=14.0,
                        help="on the relay: one more campaign under CAMPAIGN_MAX_RATE (0: none)")
    parser.add_argument("--rate-recipients", type=int, default=300)
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="bench-campaign-")
    os.environ.update(DJANGO_SETTINGS_MODULE="realtime_site.settings", DJANGO_VAR_DIR=var,
                      DJANGO_LOG_LEVEL="WARNING")
    for name in ("EMAIL_URL", "EMAIL_HOST", "DATABASE_URL", "REDIS_URL"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from campaigns.models import Acceptance, Agreement

    connections = [int(n) for n in args.connections.split(",")]
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    call_command("load_demo_users", count=args.recipients, accept_every=0, verbosity=0)
    print(f"{args.recipients} users loaded in {time.perf_counter() - started:.1f} s "
          f"(SQLite in {var}; CPUs: {os.cpu_count()})")
    agreement = Agreement.objects.get(slug="terms")
    owner = get_user_model().objects.create_user("bench-owner", "owner@bench.test", "x",
                                                 is_staff=True)
    Acceptance.objects.create(user=owner, agreement=agreement)

    sinks = []
    for name in args.sinks.split(","):
        if name == "smtp-sink":
            if shutil.which("smtp-sink") is None:
                print("smtp-sink missing: apt-get install -y postfix (then keep its daemon "
                      "stopped); skipping it")
                continue
            sinks.append(SmtpSink())
        elif name == "aiosmtpd":
            sinks.append(AioSink())
        elif name == "relay":
            sinks.append(AioSink(latency_ms=args.latency_ms))
    limit = args.seed_limit or args.recipients
    runs = 0
    for sink in sinks:
        rows = []
        for n in connections:
            runs += 1
            rows.append(run_product(sink, owner, bench_agreement(f"bench-{runs}"),
                                    connections=n))
        if isinstance(sink, AioSink) and sink.latency_ms and args.max_rate:
            runs += 1
            rows.append(run_product(
                sink, owner, bench_agreement(f"bench-{runs}", unsigned=args.rate_recipients),
                connections=max(connections), max_rate=args.max_rate))
        seed = run_seed(sink, agreement, limit)
        print(table(sink.name, rows, seed))
        for product in rows:
            print(f"{product['way']}: status {product['status']}, "
                  f"{product['recorded']} outcomes recorded, "
                  f"{product['server_messages']} messages at the sink, "
                  f"{product['client_connections']} connections opened by the job; "
                  f"snapshot {product['snapshot_seconds']} s + sending "
                  f"{product['send_seconds']} s")
        sys.stdout.flush()
    shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
