"""How long ``journey demo`` takes and how much memory it needs, by size, into a DuckDB file.

Usage: ``.venv/bin/python bench/bench_demo.py [--sizes 1M 10M 100M] [--data-dir /tmp/bench-demo]``

Each size runs ``journey demo --events <size>`` once in its own process and records the wall
time, the process's peak RSS (``ru_maxrss``, interpreter and libraries included), the rows
written and the file size; the file is deleted afterwards. The figures go to
``bench/RESULTS.md`` between the ``bench_demo`` markers (section "Demo build").
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RESULTS_MD = BENCH / "RESULTS.md"
END = "2026-01-01T00:00:00Z"
SEED = 7
_CHILD = (
    "import resource, sys\n"
    "from journey_cli.commands import main\n"
    "code = main(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def run(size: str, data_dir: Path) -> dict[str, object]:
    """Build one demo of ``size`` events and measure it; delete it afterwards."""
    db = data_dir / f"demo-{size}.duckdb"
    args = ["demo", "--db", f"duckdb:///{db}", "--events", size, "--seed", str(SEED)]
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args, "--end", END],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(f"journey demo --events {size} failed:\n{proc.stderr[-3000:]}")
    wrote = re.search(r"Wrote ([\d,]+) events", proc.stderr)
    size_mb = db.stat().st_size / 1e6
    for leftover in (db, Path(f"{db}.wal")):
        leftover.unlink(missing_ok=True)
    shutil.rmtree(Path(f"{db}.tmp"), ignore_errors=True)
    return {
        "size": size,
        "events": wrote.group(1) if wrote else "?",
        "seconds": seconds,
        "peak_mb": int(proc.stdout.split()[-1]) / 1024,
        "file_mb": size_mb,
        "load": f"{load_start:.1f} to {os.getloadavg()[0]:.1f}",
    }


def write_results(rows: list[dict[str, object]]) -> str:
    """Replace the ``bench_demo`` section of RESULTS.md with ``rows``."""
    import duckdb
    import polars as pl

    table = [
        "| size | events | build s | peak MB | file MB | 1-min load (start to end) |",
        "|---|---|---|---|---|---|",
        *(
            f"| {r['size']} | {r['events']} | {float(str(r['seconds'])):.0f} "
            f"| {float(str(r['peak_mb'])):.0f} | {float(str(r['file_mb'])):.0f} | {r['load']} |"
            for r in rows
        ),
    ]
    text = "\n".join(
        [
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} with "
            f"`bench/bench_demo.py`: {os.cpu_count()} cores, Polars {pl.__version__}, "
            f"DuckDB {duckdb.__version__}; seed {SEED}, end {END}, into a DuckDB file. The "
            "machine was shared with other work (load average beside each row), so the times "
            "are rough; peak MB is the maximum RSS of the `journey demo` process, interpreter "
            "and libraries included.",
            "",
            *table,
        ]
    )
    begin, end = "<!-- bench_demo:begin -->", "<!-- bench_demo:end -->"
    block = f"{begin}\n{text}\n{end}"
    current = RESULTS_MD.read_text()
    pattern = re.compile(re.escape(begin) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        current = pattern.sub(lambda _m: block, current)
    else:
        current = current.rstrip("\n") + f"\n\n## Demo build\n\n{block}\n"
    RESULTS_MD.write_text(current)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1M", "10M"])
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/bench-demo"))
    args = parser.parse_args()
    args.data_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for size in args.sizes:
        print(f"building {size} events ...", flush=True)
        rows.append(run(size, args.data_dir))
        print(rows[-1], flush=True)
        text = write_results(rows)  # after each size, so a long run keeps what it measured
    print(text)


if __name__ == "__main__":
    main()
