"""Run the benchmarks and refresh BENCHMARKS.md: `python benchmarks/run.py [NAME ...]`.

Starts a temporary embedded PostgreSQL and the CKAN servers the benchmarks ask for, runs
each benchmark, prints a table, rewrites the benchmarks' sections of BENCHMARKS.md, and
stops everything it started, also on error or Ctrl-C. Exit status: 0 when every target is
met, 1 when one is missed, 130 when interrupted.

A benchmark is a module with a KEY and a `run(workspace, settings, progress) -> Result`;
add it to BENCHMARKS below.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import signal
import sys
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from types import FrameType

import bench_api
import bench_drift
import bench_pages
import bench_paint
import bench_records
import bench_saturation
import bench_scale
import bench_weight
from ckan_server import Workspace
from measure import Settings
from report import Result, console, machine, write_markdown

Benchmark = Callable[[Workspace, Settings, Callable[[str], None]], Result]

BENCHMARKS: dict[str, Benchmark] = {
    bench_api.KEY: bench_api.run,
    bench_records.KEY: bench_records.run,
    bench_pages.KEY: bench_pages.run,
    bench_weight.KEY: bench_weight.run,
    bench_paint.KEY: bench_paint.run,
    bench_saturation.KEY: bench_saturation.run,
    bench_scale.KEY: bench_scale.run,
    bench_drift.KEY: bench_drift.run,
}


def _interrupt(signum: int, frame: FrameType | None) -> None:
    # `kill` and a closed terminal stop the run the way Ctrl-C does, through the
    # `with Workspace()` exit that stops the servers and PostgreSQL.
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    defaults = Settings()
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)})",
    )
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument(
        "--requests", type=int, default=defaults.requests, help="per endpoint and round"
    )
    parser.add_argument(
        "--seconds", type=float, default=defaults.seconds, help="cap per endpoint and round"
    )
    parser.add_argument(
        "--records",
        type=int,
        default=defaults.records,
        help=f"consent records `{bench_scale.KEY}` generates (default: {defaults.records:,})",
    )
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS)}")
    if args.rounds < 1 or args.requests < 1 or args.seconds <= 0 or args.records < 1:
        parser.error("--rounds, --requests, --seconds and --records must be positive")
    if importlib.util.find_spec("waitress") is None:
        parser.error("waitress is missing: `pip install -e '.[dev]'` (make venv)")

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    # platformdirs warns when XDG_RUNTIME_DIR is unset (as under root); it does not matter.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

    settings = Settings(
        rounds=args.rounds, requests=args.requests, seconds=args.seconds, records=args.records
    )
    command = shlex.join(["python", "benchmarks/run.py", *(argv or sys.argv[1:])])
    setup = f"{machine()}; CKAN served by waitress"
    when = datetime.now(timezone.utc)
    started = time.monotonic()
    results: list[Result] = []

    def progress(message: str) -> None:
        print(f"  [{time.monotonic() - started:5.1f} s] {message}", flush=True)

    try:
        with Workspace() as workspace:
            progress("PostgreSQL up")
            for name in args.names or BENCHMARKS:
                progress(f"benchmark {name}")
                results.append(BENCHMARKS[name](workspace, settings, progress))
    except KeyboardInterrupt:
        print("\nInterrupted: the CKAN servers and PostgreSQL are stopped.", file=sys.stderr)
        return 130

    print(console(results))
    if not args.no_write:
        write_markdown(results, command, setup, when)
        print(f"\nBENCHMARKS.md: {', '.join(r.key for r in results)} section(s) updated.")
    print(f"Total run time: {time.monotonic() - started:.0f} s.")
    return 0 if all(r.passed for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
