"""Time the three journey rules at 1M and 10M events against a hand-written DuckDB query.

Usage (from the repository root)::

    .venv/bin/python bench/bench_rules.py                      # 1M and 10M, DuckDB + SQLite
    .venv/bin/python bench/bench_rules.py --sizes 1M --runs 7
    .venv/bin/python bench/bench_rules.py --postgres auto      # also a throwaway PostgreSQL

For each size the script builds seeded demo warehouses with ``journey demo`` (reused while
the demo writer and the parameters are unchanged; they live under ``--data-dir``, by default
/tmp/bench-data, never in the repository). Then, for every rule, a fresh worker process
runs each engine's query once to warm up and then ``--runs`` more times, the engines taking
turns (so load from other work on the machine hits them alike), and the script reports:

* the median wall time of those runs, from the warehouse file to the final Polars frame;
* the ratio to the hand-written DuckDB SQL baseline (``bench/sql/*.sql``) for the same rule;
* the peak resident memory (VmHWM) of a separate process that runs only that engine; it
  includes the interpreter and imported libraries (about 140 MB).

Every engine's frame must equal the baseline's frame (checked here, with
``polars.testing.assert_frame_equal``). The table is printed and written into
``bench/RESULTS.md`` between markers named by ``--tag``; the raw figures are kept in
``bench/results_rules.json`` so a run of one size keeps the other size's rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS_MD = BENCH / "RESULTS.md"
RESULTS_JSON = BENCH / "results_rules.json"
DEMO_SOURCE = ROOT / "src" / "journey_core" / "io" / "demo.py"

SEED = 7
END = "2022-08-31T00:00:00Z"
# Demo individuals per size label; the demo writes about 48 events per individual.
SIZES = {"100k": 2_100, "1M": 21_000, "10M": 210_000}
RULES = ("email", "event_date", "recent")
ENGINES = ("duckdb", "duckdb-sql", "sqlite", "postgres")
BASELINE = "duckdb-sql"


# --------------------------------------------------------------------------- worker


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _query(rule: str, email: str) -> Any:
    from journey_core.rules.query import JourneyQuery

    as_of = dt.datetime.fromisoformat(END.replace("Z", "+00:00"))
    if rule == "email":
        return JourneyQuery(as_of=as_of, email=email)
    if rule == "event_date":
        return JourneyQuery(as_of=as_of, event_date=(as_of - dt.timedelta(days=30)).date())
    return JourneyQuery(as_of=as_of)


def _baseline_runner(con: Any, query: Any) -> Callable[[], Any]:
    """The hand-written DuckDB SQL, straight from the file to a Polars frame."""
    import polars as pl

    from journey_core import columns as c

    def naive(value: dt.datetime) -> dt.datetime:
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    if query.email is not None:
        sql = (BENCH / "sql" / "email.sql").read_text()
        params: dict[str, Any] = {
            "email": query.email,
            "as_of": naive(query.as_of),
            "lookback_start": naive(query.lookback_start),
        }
    else:
        sql = (BENCH / "sql" / "window.sql").read_text()
        window_start = naive(query.window_start)
        start = naive(query.start) if query.start is not None else window_start
        lookback = naive(query.lookback_start) if query.start is not None else window_start
        params = {
            "as_of": naive(query.as_of),
            "window_start": window_start,
            "start": start,
            "lookback_start": lookback,
        }

    def run() -> Any:
        frame = con.sql(sql, params=params).pl()
        return frame.with_columns(pl.col(c.KNOWN_AT, c.OCCURRED_AT).dt.replace_time_zone("UTC"))

    return run


def _runners(spec: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """One runner per engine: the product's ``fetch_journeys``, or the SQL baseline.

    The product is called exactly as the dashboard calls it. The baseline shares the
    product's DuckDB database instance when both run in one process (DuckDB allows one
    configuration per file and process), so both see the same warm caches.
    """
    import duckdb

    from journey_core import warehouse
    from journey_core.warehouse import create_engine, fetch_journeys

    duckdb_config = getattr(warehouse, "DUCKDB_CONFIG", {})  # absent in older versions
    query = _query(spec["rule"], spec["email"])
    runners: dict[str, Callable[[], Any]] = {}
    engines: dict[str, Any] = {}
    for name, url in spec["urls"].items():
        if name == BASELINE:
            continue
        engine = create_engine(url)
        engines[name] = engine

        def run(engine: Any = engine) -> Any:
            return fetch_journeys(engine, query).frame

        runners[name] = run
    if BASELINE in spec["urls"]:
        if "duckdb" in engines:
            con = engines["duckdb"].raw_connection().driver_connection
        else:
            # The product's DuckDB settings, so that memory figures compare like with like.
            con = duckdb.connect(spec["urls"][BASELINE], read_only=True, config=duckdb_config)
        runners = {BASELINE: _baseline_runner(con, query), **runners}
    return runners


def time_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Time every engine of one (size, rule) in this process, runs interleaved.

    Interleaving (A B C, B C A, ...) spreads any load from other processes on the machine
    evenly over the engines, so the ratios stay honest when the absolute times wobble.
    """
    runners = _runners(spec)
    names = list(runners)
    out: dict[str, dict[str, Any]] = {}
    allowed: dict[str, int] = {}
    times: dict[str, list[float]] = {name: [] for name in names}
    for name in names:
        started = time.perf_counter()
        frame = runners[name]()  # warm-up; its output is the one compared
        warmup = time.perf_counter() - started
        frame.write_parquet(Path(spec["out_dir"]) / f"{spec['size']}-{spec['rule']}-{name}.parquet")
        out[name] = {"warmup_ms": warmup * 1000, "rows": frame.height}
        del frame
        # Slow engines (row-wise drivers at 10M) get fewer runs, never fewer than 3.
        allowed[name] = max(3, min(spec["runs"], int(spec["budget"] / max(warmup, 1e-3))))
    for round_ in range(spec["runs"]):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            if len(times[name]) >= allowed[name]:
                continue
            started = time.perf_counter()
            frame = runners[name]()
            times[name].append(time.perf_counter() - started)
            del frame
    for name in names:
        ts = times[name]
        out[name].update(
            median_ms=statistics.median(ts) * 1000, min_ms=min(ts) * 1000, runs=len(ts)
        )
    return out


def memory_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Peak resident memory of one engine alone: a warm-up and one more run.

    VmHWM, not ``ru_maxrss``: Linux carries ``ru_maxrss`` over from the parent process
    across fork and exec, so a worker would report at least the RSS of the bench itself.
    """
    rss_import = _status_mb("VmRSS")
    (run,) = _runners(spec).values()
    run()
    run()
    return {"peak_mb": _status_mb("VmHWM"), "import_mb": rss_import}


# --------------------------------------------------------------------------- warehouses


def _stamp(individuals: int) -> dict[str, Any]:
    digest = hashlib.sha256(DEMO_SOURCE.read_bytes()).hexdigest()[:16]
    return {"individuals": individuals, "seed": SEED, "end": END, "demo": digest}


def _journey_demo(url: str, individuals: int) -> None:
    cmd = [sys.executable, "-m", "journey_cli", "demo", "--db", url]
    cmd += ["--individuals", str(individuals), "--seed", str(SEED), "--end", END]
    print(f"  building {url} ({individuals:,} individuals) ...", flush=True)
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    print(f"  built in {time.perf_counter() - started:.0f} s", flush=True)


def ensure_file(data_dir: Path, size: str, suffix: str, *, rebuild: bool) -> Path:
    """A demo warehouse file for ``size``; rebuilt when the demo writer changed."""
    path = data_dir / f"journey-{size}.{suffix}"
    stamp_path = path.with_name(path.name + ".stamp.json")
    stamp = _stamp(SIZES[size])
    fresh = path.exists() and stamp_path.exists() and json.loads(stamp_path.read_text()) == stamp
    if rebuild or not fresh:
        stamp_path.unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        _journey_demo(f"{suffix}:///{path}", SIZES[size])
        stamp_path.write_text(json.dumps(stamp))
    return path


def ensure_postgres(server_url: str, size: str, *, rebuild: bool) -> str:
    """A database ``journey_bench_<size>`` on the server, loaded with the demo."""
    import sqlalchemy as sa

    name = f"journey_bench_{size.lower()}"
    stamp = json.dumps(_stamp(SIZES[size]), sort_keys=True)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).first()
            comment = conn.execute(
                sa.text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
                    "WHERE datname = :n"
                ),
                {"n": name},
            ).scalar()
            if exists is None:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
        if rebuild or comment != stamp:
            _journey_demo(url, SIZES[size])
            with admin.connect() as conn:
                # COMMENT takes no bind parameters; the stamp is our own JSON, quotes doubled.
                literal = stamp.replace("'", "''")
                conn.execute(sa.text(f"COMMENT ON DATABASE \"{name}\" IS '{literal}'"))
    finally:
        admin.dispose()
    return url


@contextmanager
def postgres_server(option: str | None) -> Iterator[str | None]:
    """The PostgreSQL server URL: given, a throwaway cluster (``auto``), or none."""
    if option is None:
        yield None
        return
    if option != "auto":
        yield option
        return
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import PostgresServer

    with PostgresServer() as pg:
        yield pg.admin_url()


def pick_email(duckdb_path: Path) -> str:
    """The busiest known person: the normalised email carried by the most events."""
    import duckdb

    con = duckdb.connect(str(duckdb_path), read_only=True)
    try:
        rows = con.sql(
            "SELECT lower(trim(email)) AS e, count(*) AS n FROM events "
            "WHERE email IS NOT NULL GROUP BY e ORDER BY n DESC, e LIMIT 1"
        ).fetchall()
    finally:
        con.close()
    return str(rows[0][0])


# --------------------------------------------------------------------------- main


def machine() -> dict[str, Any]:
    import duckdb
    import polars as pl
    import sqlalchemy as sa

    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "cores": os.cpu_count(),
        "cpu": model,
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "duckdb": duckdb.__version__,
        "sqlalchemy": sa.__version__,
        "load_avg_start": os.getloadavg()[0],
    }


def compare(out_dir: Path, size: str, rule: str, engine: str) -> str:
    import polars as pl
    from polars.testing import assert_frame_equal

    base = out_dir / f"{size}-{rule}-{BASELINE}.parquet"
    ours = out_dir / f"{size}-{rule}-{engine}.parquet"
    if engine == BASELINE:
        return "baseline"
    if not base.exists():
        return "no baseline"
    try:
        assert_frame_equal(pl.read_parquet(ours), pl.read_parquet(base))
    except AssertionError as exc:
        print(f"  !! {size} {rule} {engine} differs from the baseline: {exc}", flush=True)
        return "NO"
    return "yes"


def run_worker(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"worker failed: {spec}\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def table(rows: list[dict[str, Any]]) -> str:
    names = ("rule", "size", "engine", "events", "rows", "median ms", "ratio to DuckDB SQL")
    head = "| " + " | ".join((*names, "peak MB", "equal")) + " |"
    lines = [head, "|" + "---|" * 9]
    order = {name: i for i, name in enumerate(ENGINES)}
    rows = sorted(
        rows,
        key=lambda r: (RULES.index(r["rule"]), SIZES[r["size"]], order.get(r["engine"], 99)),
    )
    for r in rows:
        ratio = f"{r['ratio']:.2f}" if r.get("ratio") is not None else "-"
        lines.append(
            f"| {r['rule']} | {r['size']} | {r['engine']} | {r['events']:,} | {r['rows']:,} "
            f"| {r['median_ms']:.0f} | {ratio} | {r['peak_mb']:.0f} | {r['equal']} |"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets, checked against the DuckDB rows."""
    get = {(r["rule"], r["size"], r["engine"]): r for r in rows}
    out = []
    e10, e1 = get.get(("email", "10M", "duckdb")), get.get(("email", "1M", "duckdb"))
    if e10:
        ok = e10["median_ms"] <= 100
        out.append(f"- email at 10M <= 100 ms: {e10['median_ms']:.0f} ms, {_ok(ok)}")
    if e10 and e1:
        ratio = e10["median_ms"] / e1["median_ms"]
        out.append(f"- email 10M / 1M <= 2: {ratio:.2f}, {_ok(ratio <= 2)}")
    for rule in ("event_date", "recent"):
        r = get.get((rule, "10M", "duckdb"))
        if r and r.get("ratio") is not None:
            ok = r["ratio"] <= 1.3
            out.append(f"- {rule} at 10M within 1.3x of DuckDB SQL: {r['ratio']:.2f}x, {_ok(ok)}")
    peaks = [r for r in rows if r["size"] == "10M" and r["engine"] == "duckdb"]
    if peaks:
        worst = max(peaks, key=lambda r: r["peak_mb"])
        ok = worst["peak_mb"] < 2048
        out.append(
            f"- peak memory at 10M < 2 GB (DuckDB, every rule): worst {worst['peak_mb']:.0f} MB "
            f"({worst['rule']}), {_ok(ok)}"
        )
    return out


def _ok(ok: bool) -> str:
    return "met" if ok else "MISSED"


def write_results(tag: str, runs: dict[str, Any]) -> str:
    rows = runs["rows"]
    info = runs["machine"]
    whens = sorted(r.get("when", runs["when"]) for r in rows)
    loads = [r["load"] for r in rows if "load" in r] or [info["load_avg_start"]]
    body = [
        f"Run `{tag}`, measured {whens[0]} to {whens[-1]}: {info['cores']} cores "
        f"({info['cpu']}), {info['memory_gb']} GB RAM; Python {info['python']}, Polars "
        f"{info['polars']}, DuckDB {info['duckdb']}, SQLAlchemy {info['sqlalchemy']}. "
        f"Other work shared the machine: 1-minute load average {min(loads):.1f} to "
        f"{max(loads):.1f} on 2 cores while the rows were measured. "
        f"Median of {runs['runs']} runs after a warm-up (fewer, at least 3, for slow engines); "
        "the engines of one rule and size run interleaved in one process, so load from "
        "elsewhere hits them alike. Peak MB is the maximum RSS of a separate process that "
        "runs only that engine (warm-up and one run), interpreter and libraries included.",
        "",
        table(rows),
        "",
        *targets(rows),
    ]
    text = "\n".join(body)
    begin, end = f"<!-- bench_rules:{tag}:begin -->", f"<!-- bench_rules:{tag}:end -->"
    block = f"{begin}\n{text}\n{end}"
    current = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmark results\n"
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _m: block, current)
    else:
        current = current.rstrip("\n") + f"\n\n### Run `{tag}`\n\n{block}\n"
    RESULTS_MD.write_text(current)
    return text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", default="1M,10M", help="comma list of " + ", ".join(SIZES))
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--engines", default="duckdb,duckdb-sql,sqlite")
    parser.add_argument("--runs", type=int, default=5, help="timed runs after the warm-up")
    parser.add_argument("--budget", type=float, default=60, help="seconds of timed runs, max")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-data"))
    parser.add_argument(
        "--postgres", help="'auto' (throwaway cluster) or a server URL to create databases on"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the demo warehouses")
    parser.add_argument("--tag", default="current", help="name of the section in RESULTS.md")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.worker:
        worker = json.loads(args.worker)
        fn = time_worker if worker["mode"] == "time" else memory_worker
        print(json.dumps(fn(worker)))
        return 0

    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    rules = [r.strip() for r in args.rules.split(",") if r.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.postgres and "postgres" not in engines:
        engines.append("postgres")
    for name, given, allowed in (("size", sizes, SIZES), ("rule", rules, RULES)):
        for value in given:
            if value not in allowed:
                parser.error(f"unknown {name} {value!r}; choose from {', '.join(allowed)}")
    if BASELINE not in engines:
        engines.insert(0, BASELINE)
    # The baseline runs first so every other engine can be compared with it.
    engines = [BASELINE, *[e for e in engines if e != BASELINE]]
    args.data_dir.mkdir(parents=True, exist_ok=True)
    out_dir = args.data_dir / "out"
    out_dir.mkdir(exist_ok=True)

    info = machine()
    stored: dict[str, Any] = json.loads(RESULTS_JSON.read_text()) if RESULTS_JSON.exists() else {}
    previous = stored.get(args.tag, {}).get("rows", [])
    keep = [r for r in previous if r["size"] not in sizes or r["rule"] not in rules]
    new_rows: list[dict[str, Any]] = []
    failed = False
    with postgres_server(args.postgres) as pg_url:
        for size in sizes:
            print(f"== {size} events", flush=True)
            duck = ensure_file(args.data_dir, size, "duckdb", rebuild=args.rebuild)
            urls = {BASELINE: str(duck), "duckdb": f"duckdb:///{duck}"}
            if "sqlite" in engines:
                lite = ensure_file(args.data_dir, size, "sqlite", rebuild=args.rebuild)
                urls["sqlite"] = f"sqlite:///{lite}"
            if "postgres" in engines and pg_url is not None:
                urls["postgres"] = ensure_postgres(pg_url, size, rebuild=args.rebuild)
            urls = {name: url for name, url in urls.items() if name in engines}
            import duckdb

            con = duckdb.connect(str(duck), read_only=True)
            n_events = int(con.sql("SELECT count(*) FROM events").fetchall()[0][0])
            con.close()
            email = pick_email(duck)
            for rule in rules:
                spec: dict[str, Any] = {
                    "mode": "time",
                    "size": size,
                    "rule": rule,
                    "email": email,
                    "urls": urls,
                    "runs": args.runs,
                    "budget": args.budget,
                    "out_dir": str(out_dir),
                }
                timed = run_worker(spec)
                base_ms = timed[BASELINE]["median_ms"]
                for engine in urls:
                    mem = run_worker({**spec, "mode": "memory", "urls": {engine: urls[engine]}})
                    res = {**timed[engine], **mem}
                    equal = compare(out_dir, size, rule, engine)
                    failed |= equal == "NO"
                    row = {
                        "rule": rule,
                        "size": size,
                        "engine": engine,
                        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
                        "load": os.getloadavg()[0],
                        "events": n_events,
                        "ratio": res["median_ms"] / base_ms,
                        "equal": equal,
                        **res,
                    }
                    new_rows.append(row)
                    print(
                        f"  {rule:10s} {engine:10s} {res['median_ms']:8.0f} ms "
                        f"(min {res['min_ms']:.0f}, {res['runs']} runs, warm-up "
                        f"{res['warmup_ms']:.0f})  x{row['ratio']:.2f}  "
                        f"peak {res['peak_mb']:.0f} MB  rows {res['rows']:,}  equal {equal}",
                        flush=True,
                    )
    rows = keep + new_rows
    runs = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": info,
        "runs": args.runs,
        "rows": rows,
    }
    print()
    print(table(rows))
    print("\n".join(targets(rows)))
    if not args.no_write:
        stored[args.tag] = runs
        RESULTS_JSON.write_text(json.dumps(stored, indent=1, sort_keys=True) + "\n")
        write_results(args.tag, runs)
        print(f"\nwrote {RESULTS_MD.relative_to(ROOT)} (section {args.tag!r})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
