"""Results: the console table and BENCHMARKS.md, one marked section per benchmark.

A run rewrites only the sections of the benchmarks it ran (between
`<!-- bench:KEY:start -->` and `<!-- bench:KEY:end -->`), so a benchmark added later, or
run alone, leaves the others' last figures in place. Each section says when and on what
it was measured, since sections may come from different runs.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from measure import Comparison, Measure

ROOT = Path(__file__).resolve().parent.parent
MARKDOWN = ROOT / "BENCHMARKS.md"


@dataclass(frozen=True)
class Target:
    """What the ratio must reach: `>=` for a throughput, `<=` for a time or a size."""

    op: Literal[">=", "<="]
    value: float

    def met(self, ratio: float) -> bool:
        return ratio >= self.value if self.op == ">=" else ratio <= self.value

    def __str__(self) -> str:
        return f"{'≥' if self.op == '>=' else '≤'} {self.value:g}"


@dataclass(frozen=True)
class Table:
    """A further table of a result, under its own title (e.g. a load run's counts)."""

    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str = ""  # a paragraph under the table: how its figures were obtained


@dataclass(frozen=True)
class Check:
    """A yes-or-no finding (e.g. "exactly 200 records"): a "no" makes the result a MISS."""

    what: str
    ok: bool


@dataclass
class Result:
    """One benchmark's outcome: a table of figures and the one ratio judged against a target
    (or, with `target=None`, reported as a figure only), and any checks, all of which must
    hold."""

    key: str  # the BENCHMARKS.md section marker: letters, digits and -
    title: str
    compared: str  # one sentence: what is compared with what, and how
    columns: list[str]
    rows: list[list[str]]
    ratio_name: str
    ratio: float
    target: Target | None
    notes: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        met = self.target is None or self.target.met(self.ratio)
        return met and all(check.ok for check in self.checks)

    @property
    def verdict(self) -> str:
        return "PASS" if self.passed else "MISS"


def timing_result(
    key: str,
    title: str,
    compared: str,
    comparison: Comparison,
    candidate: str,
    baseline: str,
    target: Target | None,
    of: Measure = "throughput",
) -> Result:
    """A Result from a side-by-side timing: medians per endpoint, and the ratio `of` the
    candidate to the baseline (a throughput ratio wants `>=`, a latency ratio `<=`)."""
    rows = [
        [
            f"`{label}`",
            f"{t.endpoint.method} {_target(t.endpoint.url)}",
            f"{t.median_latency * 1e3:.2f} ms",
            f"{t.median_throughput:.0f} req/s",
            str(t.requests),
        ]
        for label, t in comparison.timings.items()
    ]
    ratios = comparison.ratios(candidate, baseline, of)
    return Result(
        key=key,
        title=title,
        compared=compared,
        columns=["", "request", "median latency", "median throughput", "requests timed"],
        rows=rows,
        ratio_name=f"{of} {candidate} / {baseline}",
        ratio=comparison.ratio(candidate, baseline, of),
        target=target,
        notes=[
            f"Median of {len(ratios)} per-round ratios; per-round range "
            f"{min(ratios):.3f} to {max(ratios):.3f}; measured in {comparison.seconds:.0f} s."
        ],
    )


def _target(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def machine() -> str:
    """CPU, cores, load, Python and CKAN versions, and the commit measured."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}, {os.cpu_count()} cores (load average {load} at the start); "
        f"Python {platform.python_version()}, CKAN {importlib.metadata.version('ckan')}, "
        f"ckanext-cookieconsent {importlib.metadata.version('ckanext-cookieconsent')} "
        f"at {_commit()}"
    )


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "an unknown commit"
    return head + (" with uncommitted changes" if git("status", "--porcelain") else "")


def console(results: list[Result]) -> str:
    """The results as plain text tables, for the terminal."""
    out: list[str] = []
    for result in results:
        out.append(f"\n{result.title}")
        out.extend(_text_table(result.columns, result.rows, "  "))
        if result.target is None:
            out.append(f"  ratio {result.ratio_name}: {result.ratio:.3f} (no target)")
        else:
            out.append(
                f"  ratio {result.ratio_name}: {result.ratio:.3f} "
                f"(target {result.target}): {result.verdict}"
            )
        out.extend(f"  {note}" for note in result.notes)
        for extra in result.tables:
            out.append(f"  {extra.title}")
            out.extend(_text_table(extra.columns, extra.rows, "    "))
            if extra.note:
                out.append(f"    {extra.note}")
        out.extend(
            f"  check: {_plain(check.what)}: {'yes' if check.ok else 'NO'}"
            for check in result.checks
        )
        if result.target is None or result.checks:
            out.append(f"  {result.verdict}")
    return "\n".join(out)


def _plain(cell: str) -> str:
    return cell.replace("`", "")


def _text_table(columns: list[str], rows: list[list[str]], indent: str) -> list[str]:
    table = [[_plain(cell) for cell in row] for row in (columns, *rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(columns))]
    return [
        (indent + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))).rstrip()
        for row in table
    ]


HEADER = """# Benchmarks

Written by `python benchmarks/run.py` (`make benchmark`); do not edit by hand between the
`bench:` markers. Speed is only ever judged here, as a ratio between a candidate and a
baseline measured side by side in the same run, on the same machine: a shared, noisy
2-core machine makes absolute figures drift from run to run, ratios much less.

How a timing benchmark measures: a fresh embedded PostgreSQL and CKAN server(s) on
loopback, served by waitress (one process, one application thread) unless the section
says otherwise; one keep-alive HTTP/1.1 connection per endpoint, requests sent one at a
time; a warm-up, then rounds of turns, a turn sending one request to each endpoint, the
order rotating from turn to turn (a round bounded in turns and in seconds). Latency:
median over every timed request. Throughput: requests per second of time spent waiting
on the endpoint, median of the per-round figures. Ratio: median of the per-round ratios.
"""


def section(result: Result, when: datetime, setup: str, command: str) -> str:
    """The Markdown section of one result, markers excluded."""
    if result.target is None:
        ratio = f"Ratio, {result.ratio_name}: **{result.ratio:.3f}** (a figure, no target)."
    else:
        ratio = (
            f"Ratio, {result.ratio_name}: **{result.ratio:.3f}**; "
            f"target {result.target}: **{result.verdict}**."
        )
    parts = [f"## {result.title}", result.compared, _markdown_table(result.columns, result.rows)]
    parts += [ratio, *result.notes]
    for extra in result.tables:
        parts += [f"### {extra.title}", _markdown_table(extra.columns, extra.rows)]
        parts += [extra.note] if extra.note else []
    if result.checks:
        parts.append("\n".join(f"- {c.what}: **{'yes' if c.ok else 'no'}**" for c in result.checks))
    if result.target is None or result.checks:
        parts.append(f"Verdict: **{result.verdict}**.")
    parts.append(f"Measured {when:%Y-%m-%d %H:%M} UTC by `{command}`; {setup}.")
    return "\n\n".join(parts) + "\n"


def _markdown_table(columns: list[str], rows: list[list[str]]) -> str:
    head = "| " + " | ".join(columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    return "\n".join([head, rule, *("| " + " | ".join(row) + " |" for row in rows)])


def write_markdown(
    results: list[Result],
    command: str,
    setup: str,
    when: datetime | None = None,
    path: Path = MARKDOWN,
) -> None:
    """Create BENCHMARKS.md or replace, in place, the sections of these results.

    `setup` says what was measured on: the machine (see `machine()`) and the server.
    """
    when = when or datetime.now(timezone.utc)
    text = path.read_text() if path.exists() else ""
    text = _put(text, "header", HEADER)
    for result in results:
        text = _put(text, result.key, section(result, when, setup, command))
    path.write_text(text)


def _put(text: str, key: str, content: str) -> str:
    start, end = f"<!-- bench:{key}:start -->", f"<!-- bench:{key}:end -->"
    block = f"{start}\n{content.strip()}\n{end}"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return (text.rstrip() + "\n\n" if text.strip() else "") + block + "\n"
