"""Benchmark: the product's export job end to end, its stages alone, and the reference writers.

    .venv/bin/python bench/export.py --rows 100000
    .venv/bin/python bench/export.py --rows 1000000                      # SQLite
    .venv/bin/python bench/export.py --rows 1000000 --database postgres  # DATABASE_URL or
                                                   # postgres://postgres@127.0.0.1:5432/
    .venv/bin/python bench/export.py --rows 100000 --profile  # where the time goes
    .venv/bin/python bench/export.py --rows 1148575 --variants product,read-only \
        --workdir /tmp/rt-bench-export-2sheets  # past Excel's 1,048,575 rows: two sheets

Every variant runs in its own subprocess on the same rows (accident claims, 15 columns, one
JOIN to the car; on PostgreSQL in a database `rt_bench_export_<rows>` of that server), so its
peak RSS (ru_maxrss of the child, from os.wait4) is honest; the database server's own memory
is not in it. Each xlsx/CSV file of the first run of a variant is read back (openpyxl
read-only, the csv module) and its data rows counted, on every sheet (`--no-verify` skips
it). Variants
(bench/export_variants.py):
  product            the export job (kind "export"): count, reader thread, row XML, deflate
                     thread, progress through the real Reporter (DB writes + pushes), storage
  product-serial     the same with EXPORT_PIPELINE=0: the three stages one after another
  product-quiet      the same with progress reporting switched off: the Reporter's overhead
  product-level<N>   the same at zlib level N (EXPORT_XLSX_COMPRESSLEVEL)
  product-openpyxl   the export job with EXPORT_XLSX_ENGINE=openpyxl (write-only, lxml)
  openpyxl-nolxml    the same without lxml (OPENPYXL_LXML=False)
  product-csv        the export job, format=csv (product-csv-serial: EXPORT_PIPELINE=0)
  read-only          only reading the rows, as the product's reader does (the bare read)
  read-keyset        reading in keyset pages whatever the database (the read before)
  read-cursor        reading through one Django cursor, qs.iterator() (SQLite: trap 14)
  stage-build        building + encoding the row XML alone (a cycled in-memory sample)
  stage-deflate      deflate + CRC + write alone, at every zlib level (scaled from a sample)
  xlsxwriter         xlsxwriter constant_memory (reference), same rows, header style, formats
  seed               the seed article: normal openpyxl workbook, a border on every cell,
                     auto-width over all columns, rows appended from the same query
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import export_variants as variants  # noqa: E402

ALL = ["product", "product-serial", "product-quiet", "product-level1", "product-level4",
       "product-level6", "product-level7", "product-openpyxl", "openpyxl-nolxml",
       "product-csv", "product-csv-serial", "read-only", "read-keyset", "read-cursor",
       "stage-build", "stage-deflate", "xlsxwriter", "seed"]
SLOW_AT_1M = {"seed", "openpyxl-nolxml"}
RUN_ONCE = {"seed", "stage-deflate"}
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/postgres"


def _pg_base() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else PG_DEFAULT


def database_url(database: str, workdir: Path, rows: int) -> str:
    if database == "sqlite":
        return f"sqlite:///{workdir / 'bench.sqlite3'}"
    return urlsplit(_pg_base())._replace(path=f"/rt_bench_export_{rows}").geturl()


def _env(workdir: Path, url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="realtime_site.settings",
        DATABASE_URL=url,
        MEDIA_ROOT=str(workdir / "media"),
        DJANGO_VAR_DIR=str(workdir / "var"),
        DJANGO_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    return env


def prepare(workdir: Path, url: str, rows: int) -> None:
    env = _env(workdir, url)
    workdir.mkdir(parents=True, exist_ok=True)
    if url.startswith("postgres"):
        import psycopg

        name = urlsplit(url).path.lstrip("/")
        with psycopg.connect(_pg_base(), autocommit=True) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchone():
                conn.execute(f'CREATE DATABASE "{name}"')
    py = sys.executable
    subprocess.run([py, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"], env=env,
                   check=True)
    code = ("import django; django.setup(); from exports.models import AccidentClaim as A; "
            "print(A.objects.count())")
    have = int(subprocess.run([py, "-c", code], env=env, check=True, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1])
    if have != rows:
        print(f"loading {rows:,} accident claims (had {have:,})...", flush=True)
        wipe = ("import django; django.setup(); from exports.models import AccidentClaim as A, "
                "Car; A.objects.all().delete(); Car.objects.all().delete()")
        subprocess.run([py, "-c", wipe], env=env, check=True)
        subprocess.run([py, str(ROOT / "manage.py"), "load_demo_claims", f"--count={rows}",
                        "--types=accident"], env=env, check=True)


def run_variant(variant: str, workdir: Path, url: str, rows: int, verify: bool) -> dict:
    command = [sys.executable, __file__, "--child", variant, "--workdir", str(workdir),
               "--rows", str(rows)]
    proc = subprocess.Popen(command + (["--verify"] if verify else []),
                            env=_env(workdir, url), stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    _pid, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        return {"variant": variant, "error": f"exit {proc.returncode}"}
    result = json.loads(out.strip().splitlines()[-1])
    result["variant"] = variant
    result["peak_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def profile(workdir: Path, url: str, engine: str) -> None:
    os.environ.update(_env(workdir, url))
    os.environ["EXPORT_XLSX_ENGINE"] = engine
    variants.setup_django()
    from django.conf import settings

    settings.EXPORT_XLSX_ENGINE = engine  # settings were read by the first profile's setup
    prof = cProfile.Profile()
    prof.enable()
    result = variants.product()
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(14)
    print(f"\n--- cProfile, engine={engine}: {result['seconds']:.1f} s (inflated by profiling)")
    print("\n".join(line for line in buf.getvalue().splitlines()[6:] if line.strip()))


def report(results: list[dict], args: argparse.Namespace) -> None:
    by = {r["variant"]: r for r in results if "error" not in r}
    seed, product = by.get("seed"), by.get("product")
    print(f"\n{args.rows:,} rows x 15 columns, {args.database}, {os.cpu_count()} cores, "
          f"load average before the run {args.load:.2f}, best of {args.repeat}\n")
    head = (f"{'variant':<20}{'seconds':>9}{'rows/s':>10}{'peak MB':>9}{'file MB':>9}"
            f"{'vs seed':>9}{'vs product':>11}{'read back':>11}")
    print(head)
    print("-" * len(head))
    for r in results:
        if "error" in r:
            print(f"{r['variant']:<20} {r['error']}")
            continue
        vs_seed = f"{seed['seconds'] / r['seconds']:.1f}x" if seed else "-"
        vs_prod = f"{r['seconds'] / product['seconds']:.2f}" if product else "-"
        back = f"{r['rows_read_back']:,}" if "rows_read_back" in r else "-"
        print(f"{r['variant']:<20}{r['seconds']:>9.2f}{r['rows'] / r['seconds']:>10,.0f}"
              f"{r['peak_mb']:>9.0f}{r['bytes'] / 1e6:>9.1f}{vs_seed:>9}{vs_prod:>11}"
              f"{back:>11}")
        if r.get("sheets_read_back", 1) > 1:
            print(f"  {r['variant']}: {r['sheets_read_back']} sheets (Excel's 1,048,575 rows "
                  "a sheet)")
        if "rows_read_back" in r and r["rows_read_back"] != r["rows"]:
            print(f"  !! {r['variant']}: {r['rows']:,} rows written, "
                  f"{r['rows_read_back']:,} read back")
    if "stage-deflate" in by:
        d = by["stage-deflate"]
        print(f"\ndeflate + CRC + write alone, per zlib level ({d['xml_bytes'] / 1e6:,.0f} MB "
              f"of XML, scaled from {d['sampled_rows']:,} rows to {args.rows:,}):")
        for level, x in d["levels"].items():
            print(f"  level {level}: {x['seconds']:6.2f} s  {x['bytes'] / 1e6:7.1f} MB")
    stages = {k: by[k]["seconds"] for k in ("read-only", "stage-build") if k in by}
    if "stage-deflate" in by and product:
        from django.conf import settings

        level = str(settings.EXPORT_XLSX_COMPRESSLEVEL)
        stages[f"deflate (level {level})"] = by["stage-deflate"]["levels"][level]["seconds"]
    if product and stages:
        slowest = max(stages, key=stages.get)
        print("\nstages alone: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()))
        print(f"product {product['seconds']:.2f} s = {product['seconds'] / stages[slowest]:.2f}x"
              f" the slowest stage ({slowest}); read + build (both hold the GIL) "
              f"{stages.get('read-only', 0) + stages.get('stage-build', 0):.2f} s")
    if "read-only" in by and product:
        print(f"product / bare read: {product['seconds'] / by['read-only']['seconds']:.2f}x")
    if product:
        print(f"progress reporting, timed inside the Reporter: {product['progress_seconds']:.3f}"
              f" s ({product['progress_seconds'] / product['seconds']:.1%}) for "
              f"{product['flushes']} flushes and the per-chunk cancel checks")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--variants", default=",".join(ALL))
    parser.add_argument("--workdir", default="/tmp/rt-bench-export")
    parser.add_argument("--child")
    parser.add_argument("--verify", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-verify", action="store_true",
                        help="do not read the files back to count their rows")
    parser.add_argument("--profile", action="store_true", help="cProfile both xlsx engines")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs per variant, the fastest is kept (the seed runs once)")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(variants.child(args.child, Path(args.workdir), args.rows,
                                        args.verify)))
        return
    workdir = Path(args.workdir) / f"rows-{args.rows}"
    url = database_url(args.database, workdir, args.rows)
    prepare(workdir, url, args.rows)
    if args.profile:
        profile(workdir, url, "fast")
        profile(workdir, url, "openpyxl")
        return
    args.load = os.getloadavg()[0]
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.rows >= 500_000:
        skipped = [v for v in names if v in SLOW_AT_1M]
        names = [v for v in names if v not in SLOW_AT_1M]
        if skipped:
            print(f"skipped at {args.rows:,} rows: {', '.join(skipped)} "
                  "(minutes and GBs; see the 100k table)")
    results = []
    for variant in names:
        print(f"running {variant}...", flush=True)
        runs = [run_variant(variant, workdir, url, args.rows, verify=i == 0 and not args.no_verify)
                for i in range(1 if variant in RUN_ONCE else args.repeat)]
        ok = [r for r in runs if "error" not in r]
        for r in ok:
            if "verify_path" in r:
                back = run_variant(f"verify:{r['verify_path']}", workdir, url, args.rows, False)
                r["rows_read_back"] = back.get("rows_read_back", -1)
                r["sheets_read_back"] = back.get("sheets_read_back", 0)
        if ok:  # the fastest run (least disturbed by the neighbours), the highest peak
            best = min(ok, key=lambda r: r["seconds"])
            best["peak_mb"] = max(r["peak_mb"] for r in ok)
            best.update({k: v for r in ok for k, v in r.items()
                         if k in ("rows_read_back", "sheets_read_back")})
            results.append(best)
        else:
            results.append(runs[0])
    os.environ.update(_env(workdir, url))
    variants.setup_django()
    report(results, args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
