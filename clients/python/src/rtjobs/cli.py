"""The `rtjobs` command. Output: data (job ids, file paths, the list) on stdout; progress and
reasons on stderr. Exit status: 0 succeeded, 1 failed, 3 cancelled or interrupted (or Ctrl-C
while waiting), 2 usage or a refused request (401/403 and other 4xx), 4 server unreachable."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from rtjobs import __version__
from rtjobs.client import (
    ApiError,
    AuthError,
    Client,
    Job,
    RtjobsError,
    Unreachable,
    UsageError,
    WaitTimeout,
)
from rtjobs.progress import Progress

OK, FAILED, USAGE, STOPPED, UNREACHABLE = 0, 1, 2, 3, 4
EXIT_BY_STATUS = {"succeeded": OK, "failed": FAILED, "cancelled": STOPPED,
                  "interrupted": STOPPED}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line on stderr, status 2
        self.exit(USAGE, f"rtjobs: {message} (see `{self.prog} --help`)\n")


def _connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    # On the top parser and every subcommand, so `rtjobs --url U list` and `rtjobs list
    # --url U` both work; SUPPRESS keeps a subcommand from resetting the top one's value.
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--url", default=default,
                        help="the site's address (default: $JOBS_URL)")
    parser.add_argument("--token", default=default,
                        help="an access token (default: $JOBS_TOKEN; prefer the variable: "
                             "arguments show in process lists)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="rtjobs", description="Start and follow realtime-jobs jobs: claim "
                     "exports and reminder campaigns.")
    parser.add_argument("--version", action="version", version=f"rtjobs {__version__}")
    _connection_options(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)

    def command(name: str, help_text: str, parent=commands) -> argparse.ArgumentParser:
        sub = parent.add_parser(name, help=help_text, description=help_text)
        _connection_options(sub, top=False)
        return sub

    listing = command("list", "your recent jobs, newest first")
    listing.add_argument("--json", action="store_true", help="the JOB objects as JSON")

    start = commands.add_parser("start", help="start a job (prints its id)",
                                description="Start a job; prints its id alone unless --wait.")
    kinds = start.add_subparsers(dest="kind", required=True, metavar="KIND",
                                 parser_class=_Parser)
    export = command("export", "export one claim type to xlsx or CSV", kinds)
    export.add_argument("claim_type", metavar="CLAIM_TYPE", help="accident, theft, warranty, …")
    export.add_argument("--format", choices=("xlsx", "csv"), default="xlsx")
    export.add_argument("--filter", action="append", default=[], metavar="LOOKUP=VALUE",
                        help="e.g. status=open, created_at__gte=2026-01-01 (repeatable)")
    export.add_argument("--download", metavar="FILE",
                        help="when it succeeded, save the file there (implies --wait)")
    campaign = command("campaign", "send reminders of one agreement", kinds)
    campaign.add_argument("agreement", metavar="AGREEMENT", help="its slug or id")
    campaign.add_argument("--include-recent", action="store_true",
                          help="also mail users reminded within the resend period")
    for sub in (export, campaign):
        _wait_options(sub, flag=True)

    watch = command("watch", "follow a job until it ends")
    watch.add_argument("job_id", metavar="ID")
    _wait_options(watch, flag=False)

    cancel = command("cancel", "cancel a queued or running job")
    cancel.add_argument("job_id", metavar="ID")

    download = command("download", "save a succeeded job's file")
    download.add_argument("job_id", metavar="ID")
    download.add_argument("-o", "--output", metavar="FILE",
                          help="file or folder (default: the server's file name, here)")
    return parser


def _wait_options(parser: argparse.ArgumentParser, *, flag: bool) -> None:
    if flag:
        parser.add_argument("--wait", action="store_true",
                            help="follow the job until it ends; the exit status tells how")
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stop waiting after this long (exit 3; the job goes on)")


def _filters(pairs: Sequence[str]) -> dict[str, str]:
    filters = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--filter takes LOOKUP=VALUE, not {pair!r}.")
        filters[name.strip()] = value
    return filters


def _client(args: argparse.Namespace) -> Client:
    url = args.url or os.environ.get("JOBS_URL", "")
    token = args.token or os.environ.get("JOBS_TOKEN", "")
    if not url:
        raise UsageError("No server: set JOBS_URL (or pass --url), e.g. https://jobs.example.com.")
    return Client(url, token)


def _follow(job: Job, timeout: float | None) -> int:
    progress = Progress(sys.stderr)

    def connection(state: str, detail: dict) -> None:
        if state == "reconnecting":
            progress.note(f"connection lost ({detail['reason']}); reconnecting in "
                          f"{detail['delay']:.1f} s")
        elif state == "reconnected":
            progress.note("reconnected")

    try:
        progress.update(job.snapshot)
        final = job.wait(on_progress=progress.update, timeout=timeout, on_connection=connection)
    except WaitTimeout as exc:
        progress.note(f"rtjobs: {exc}")
        return STOPPED
    except KeyboardInterrupt:
        progress.note(f"rtjobs: interrupted; job {job.id} goes on on the server "
                      f"(`rtjobs watch {job.id}`, `rtjobs cancel {job.id}`).")
        return STOPPED
    progress.finish(final)
    return EXIT_BY_STATUS[final["status"]]


def _run(args: argparse.Namespace) -> int:
    client = _client(args)
    out = sys.stdout
    if args.command == "list":
        jobs = client.jobs()
        if args.json:
            json.dump(jobs, out, indent=2)
            out.write("\n")
        for job in [] if args.json else jobs:
            done = (job.get("done") or 0) + (job.get("failed") or 0)
            total = "?" if job.get("total") is None else job["total"]
            # An export's filters in words (JOB `subtitle`), as its card on the dashboard.
            subtitle = f"  ({job['subtitle']})" if job.get("subtitle") else ""
            out.write(f"{job['id']}  {job['status']:<11} {done}/{total}  {job['title']}"
                      f"{subtitle}\n")
        return OK
    if args.command == "start":
        if args.kind == "export":
            job = client.start_export(args.claim_type, format=args.format,
                                      filters=_filters(args.filter))
        else:
            job = client.start_campaign(args.agreement, include_recent=args.include_recent)
            info = job.info
            if info.get("skipped_recent"):
                sys.stderr.write(f"{info.get('recipients')} recipients; "
                                 f"{info['skipped_recent']} reminded recently are left out "
                                 "(--include-recent mails them too)\n")
        out.write(job.id + "\n")
        out.flush()
        download = getattr(args, "download", None)
        if not (args.wait or download):
            return OK
        code = _follow(job, args.timeout)
        if code == OK and download:
            out.write(f"{job.download(download)}\n")
        return code
    if args.command == "watch":
        return _follow(client.job(args.job_id), args.timeout)
    if args.command == "cancel":
        job = client.job(args.job_id)
        snapshot = job.cancel()
        sys.stderr.write(f"{snapshot['status']}: {snapshot.get('message') or ''}\n")
        return OK
    if args.command == "download":
        job = client.job(args.job_id)
        out.write(f"{job.download(args.output)}\n")
        return OK
    raise AssertionError(args.command)  # pragma: no cover


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (UsageError, AuthError) as exc:
        code, reason = USAGE, str(exc)
    except ApiError as exc:
        code = UNREACHABLE if exc.status >= 500 else USAGE
        reason = f"{exc} (HTTP {exc.status})"
    except Unreachable as exc:
        code, reason = UNREACHABLE, str(exc)
    except RtjobsError as exc:  # pragma: no cover - every kind is above
        code, reason = USAGE, str(exc)
    except KeyboardInterrupt:
        code, reason = STOPPED, "interrupted"
    except OSError as exc:  # writing the downloaded file
        code, reason = USAGE, f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
    sys.stderr.write(f"rtjobs: {reason}\n")
    return code
