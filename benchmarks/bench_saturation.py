"""Benchmark `saturation`: the extension's cost in throughput, under uWSGI as ckan-docker
serves CKAN, with more clients than worker processes.

CKAN servers under uWSGI (`Workspace.server(processes=...)`: ckan-docker-base's options, a
master, 2 lazy worker processes of one thread each, its HTTP router in front), all on one
database:

- `enabled`: `ckan.plugins = cookieconsent`, the example catalogue (`matomo-youtube.yaml`:
  a category that needs consent, so the banner shows), records on (the default);
- `disabled`: `ckan.plugins =` (empty);
- `records off`: as `enabled`, with `ckanext.cookieconsent.records = false`;
- `records on, async commit`: as `enabled`, its database connections with
  `synchronous_commit = off` (the control of `records`).

Debian's `wrk` keeps `CONNECTIONS` connections busy (more than the workers: a request is
always waiting, the server is saturated) for a fixed number of seconds per side and round.
A round runs, for each case, its candidate and its baseline one after the other, the order
alternating from round to round and from case to case; a case's ratio is the median of its
per-round throughput ratios, candidate / baseline.

Cases: `GET /about` and `GET /user/login` with the banner (no cookie) and with a choice
made (a real preferences cookie, from a `POST /cookies/consent` as visitor.py makes it),
enabled against disabled (no cookie); and the choice itself, `POST /cookies/consent` (CSRF
as a browser does it: one visit's session cookie and token, Origin, `Sec-Fetch-Site`; no
preferences cookie, so each POST is a new visitor), records on against off, with a
control: records on, with asynchronous commit (`records on, async commit`). A wrk Lua
script per endpoint sends the method, body and headers, counts every answer whose status
is not the expected one, and prints its figures as JSON.

Every wrk is a child of this process, ended with it (subprocess.run kills it on an error
or Ctrl-C); the uWSGI servers are the workspace's, stopped with it.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from bench_records import ASYNC_COMMIT
from ckan_server import Server, Workspace, group_pids
from measure import Client, Endpoint, Settings, send_once
from report import Check, Result, Table, Target
from sqlalchemy.pool import NullPool
from visitor import CONSENT_PATH, PREFERENCES_COOKIE, preferences_cookie, visit

KEY = "saturation"
CATALOGUE = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
PROCESSES = 2  # uWSGI worker processes per server, as ckan-docker-base (`-p 2`)
CONNECTIONS = PROCESSES + 2  # wrk's connections: a few more than the workers
WRK = "/usr/bin/wrk"
WRK_TIMEOUT = 30  # seconds before wrk counts a request as timed out
WARMUP_SECONDS = 2  # of wrk per endpoint, before any timing
TARGET = Target(">=", 0.98)
PAGES = ("/about", "/user/login")
RECORD_PAGE = "/about"  # the page the timed choices are made on (`came_from`)
BANNER_MARK = b'id="cookieconsent-banner"'
SCRIPT_MARK = b'id="cookieconsent-settings"'  # the extension's script settings, every page


@dataclass(frozen=True)
class Run:
    """One wrk run's figures, as its Lua `done` prints them."""

    requests: int
    seconds: float
    unexpected: int  # answers whose status was not the endpoint's expected one
    socket_errors: int  # connect, read, write errors and timeouts
    p50_ms: float
    p99_ms: float

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds


@dataclass
class Side:
    """One side of a case: an endpoint and its runs, round by round."""

    endpoint: Endpoint
    runs: list[Run] = field(default_factory=list)

    @property
    def throughputs(self) -> list[float]:
        return [run.throughput for run in self.runs]


@dataclass
class Case:
    """A candidate against its baseline, each timed in every round."""

    name: str
    candidate: Side
    baseline: Side
    judged: bool = True  # False: a control, reported and not held to the target

    @property
    def ratios(self) -> list[float]:
        return [
            a / b
            for a, b in zip(self.candidate.throughputs, self.baseline.throughputs, strict=True)
        ]

    @property
    def ratio(self) -> float:
        return statistics.median(self.ratios)


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    if not Path(WRK).exists():
        raise RuntimeError(f"{WRK} is missing: `apt-get install wrk`")
    seconds = max(1, round(settings.seconds))  # wrk counts in whole seconds
    options = {"ckanext.cookieconsent.catalogue": CATALOGUE}
    on = workspace.server(plugins=["cookieconsent"], options=options, processes=PROCESSES)
    off = workspace.server(plugins=[], processes=PROCESSES)
    no_records = workspace.server(
        plugins=["cookieconsent"],
        options={**options, "ckanext.cookieconsent.records": "false"},
        processes=PROCESSES,
    )
    # The control: records on, PostgreSQL not waiting for the disk at each commit (for
    # this server's connections only), as in `records`: what is left of the gap is the
    # extension's own work, the rest the durable commit.
    separator = "&" if "?" in workspace.database_url else "?"
    async_commit = workspace.server(
        plugins=["cookieconsent"],
        options={
            **options,
            "sqlalchemy.url": f"{workspace.database_url}{separator}options={ASYNC_COMMIT}",
        },
        processes=PROCESSES,
    )
    servers = {
        "enabled": on, "disabled": off, "records off": no_records,
        "records on, async commit": async_commit,
    }  # fmt: skip
    counts = {name: len(group_pids(server.pid)) for name, server in servers.items()}
    progress(
        "uWSGI servers up: " + ", ".join(f"{name} ({n} processes)" for name, n in counts.items())
    )
    chosen = {"Cookie": f"{PREFERENCES_COOKIE}={preferences_cookie(on.url)}"}
    cases: list[Case] = []
    for page in PAGES:
        for scenario, headers in (("banner", {}), ("chosen", chosen)):
            cases.append(
                Case(
                    f"GET {page}, {scenario}",
                    Side(Endpoint(f"{page} {scenario}", on.url + page, headers=headers)),
                    Side(Endpoint(f"{page} disabled", off.url + page)),
                )
            )
    records_off = _consent_endpoint("records off", no_records)
    cases += [
        Case(f"POST {CONSENT_PATH}", Side(_consent_endpoint("records on", on)), Side(records_off)),
        Case(
            f"POST {CONSENT_PATH}, control",
            Side(_consent_endpoint("records on, async commit", async_commit)),
            Side(records_off),
            judged=False,
        ),
    ]
    posts = [case for case in cases if case.candidate.endpoint.method == "POST"]

    engine = sa.create_engine(workspace.database_url, poolclass=NullPool)
    try:
        checks = [
            Check(
                f"each server runs a uWSGI master, {PROCESSES} workers and an HTTP router "
                f"({', '.join(f'{name}: {n}' for name, n in counts.items())} processes)",
                all(n == PROCESSES + 2 for n in counts.values()),
            ),
            *_page_checks([case for case in cases if case not in posts]),
            *(_one_post_check(engine, case.candidate.endpoint, 1) for case in posts),
            _one_post_check(engine, records_off, expected_records=0),
        ]
        scripts = workspace.directory / "wrk"
        scripts.mkdir(exist_ok=True)
        for case in cases:
            for side in (case.candidate, case.baseline):
                _wrk(side.endpoint, scripts, WARMUP_SECONDS)
        progress(f"warmed up: {WARMUP_SECONDS} s of wrk per endpoint and case")

        records_before = _record_count(engine)
        started = time.monotonic()
        for r in range(settings.rounds):
            for i, case in enumerate(cases):
                pair = (case.candidate, case.baseline)
                for side in pair if (r + i) % 2 == 0 else pair[::-1]:
                    side.runs.append(_wrk(side.endpoint, scripts, seconds))
            progress(
                f"round {r + 1}/{settings.rounds}: "
                + ", ".join(f"{c.name} {c.ratios[-1]:.3f}" for c in cases)
            )
        elapsed = time.monotonic() - started
        records = _settled_count(engine) - records_before
    finally:
        engine.dispose()
    checks += _run_checks(cases, posts, records)
    return _result(cases, checks, settings.rounds, seconds, elapsed)


# --- wrk ------------------------------------------------------------------------------

# The endpoint's request; `unexpected` counts the answers with another status (a global:
# `done` reads each thread's with `thread:get`); `done` prints the run's figures as JSON.
LUA = """\
wrk.method = {method}
wrk.body = {body}
{headers}
local expected = {status}
local threads = {{}}
unexpected = 0

function setup(thread)
  table.insert(threads, thread)
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
  end
  local e = summary.errors
  io.write(string.format(
    '\\n{{"requests": %d, "microseconds": %d, "unexpected": %d, "socket_errors": %d, '
    .. '"p50": %d, "p99": %d}}\\n',
    summary.requests, summary.duration, bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def _lua(text: str) -> str:
    """A Lua string literal (the requests here are printable ASCII: URL-encoded forms,
    cookie values)."""
    if not text.isascii() or not text.isprintable():
        raise ValueError(f"not printable ASCII: {text[:80]!r}")
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _wrk(endpoint: Endpoint, directory: Path, seconds: int) -> Run:
    """`seconds` of wrk on the endpoint, `CONNECTIONS` connections from one thread."""
    script = directory / (re.sub(r"[^A-Za-z0-9]+", "-", endpoint.label).strip("-") + ".lua")
    if not script.exists():
        script.write_text(
            LUA.format(
                method=_lua(endpoint.method),
                body=_lua((endpoint.body or b"").decode()) if endpoint.body else "nil",
                headers="\n".join(
                    f"wrk.headers[{_lua(k)}] = {_lua(v)}" for k, v in endpoint.headers.items()
                ),
                status=endpoint.expect_status,
            )
        )
    command = [
        WRK, "--threads", "1", "--connections", str(CONNECTIONS),
        "--duration", f"{seconds}s", "--timeout", f"{WRK_TIMEOUT}s",
        "--script", str(script), endpoint.url,
    ]  # fmt: skip
    # run() kills wrk if anything (an error, Ctrl-C, the run's SIGTERM) interrupts the wait.
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    figures = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode or not figures.startswith("{"):
        raise RuntimeError(
            f"wrk on {endpoint.label} ({endpoint.method} {endpoint.url}) failed "
            f"({done.returncode}): {(done.stdout + done.stderr)[-600:]}"
        )
    values = json.loads(figures)
    return Run(
        requests=values["requests"],
        seconds=values["microseconds"] / 1e6,
        unexpected=values["unexpected"],
        socket_errors=values["socket_errors"],
        p50_ms=values["p50"] / 1e3,
        p99_ms=values["p99"] / 1e3,
    )


# --- Servers, requests and checks -----------------------------------------------------


def _consent_endpoint(label: str, server: Server) -> Endpoint:
    """The timed choice, with the session and token of one visit to that server."""
    with Client(server.url + RECORD_PAGE) as client:
        body, headers = visit(client, server.url, RECORD_PAGE).accept_all()
    return Endpoint(
        label, server.url + CONSENT_PATH, method="POST", body=body, headers=headers,
        expect_status=303,
    )  # fmt: skip


def _page_checks(cases: list[Case]) -> list[Check]:
    """Before timing: the banner where it should be, the extension absent where disabled."""
    checks: list[Check] = []
    for case in cases[:-1]:
        candidate = send_once(case.candidate.endpoint)
        baseline = send_once(case.baseline.endpoint)
        if case.candidate.endpoint.headers:
            shown = BANNER_MARK not in candidate and SCRIPT_MARK in candidate
            what = "no banner, the extension's script settings present"
        else:
            shown = BANNER_MARK in candidate
            what = "the banner in the page"
        checks += [
            Check(f"`{case.candidate.endpoint.label}`: {what}", shown),
            Check(
                f"`{case.baseline.endpoint.label}` ({case.name}): nothing of the extension",
                BANNER_MARK not in baseline and SCRIPT_MARK not in baseline,
            ),
        ]
    return checks


def _one_post_check(engine: sa.Engine, endpoint: Endpoint, expected_records: int) -> Check:
    before = _record_count(engine)
    send_once(endpoint)
    written = _settled_count(engine) - before
    return Check(
        f"`{endpoint.label}`: one choice writes {expected_records} record(s) (wrote {written})",
        written == expected_records,
    )


def _record_count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.text("SELECT count(*) FROM cookieconsent_record")).one()[0]
        )


def _settled_count(engine: sa.Engine, timeout: float = 5.0) -> int:
    """The record count once it stops changing: a request still in flight when wrk
    stopped may commit its record just after."""
    deadline = time.monotonic() + timeout
    count = _record_count(engine)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        again = _record_count(engine)
        if again == count:
            break
        count = again
    return count


def _run_checks(cases: list[Case], posts: list[Case], records: int) -> list[Check]:
    """After timing: every answer as expected, no socket error, one record per choice."""
    checks: list[Check] = []
    for case in cases:
        for side in (case.candidate, case.baseline):
            bad = sum(run.unexpected for run in side.runs)
            errors = sum(run.socket_errors for run in side.runs)
            checks.append(
                Check(
                    f"`{side.endpoint.label}` ({case.name}): every answer "
                    f"{side.endpoint.expect_status}, no socket error ({bad} other answers, "
                    f"{errors} socket errors)",
                    bad == 0 and errors == 0,
                )
            )
    writing = [case.candidate for case in posts]
    answered = sum(run.requests for side in writing for run in side.runs)
    # wrk counts the answers it read; a request in flight when it stops is not counted but
    # may be served: at most one per connection and run.
    slack = CONNECTIONS * sum(len(side.runs) for side in writing)
    checks.append(
        Check(
            f"{' and '.join(f'`{side.endpoint.label}`' for side in writing)}: one record per "
            f"choice answered ({records:,} records for {answered:,} answered choices, plus at "
            f"most {slack} in flight), none from `{posts[0].baseline.endpoint.label}`",
            answered <= records <= answered + slack,
        )
    )
    return checks


# --- The result -----------------------------------------------------------------------


def _commit_note(posts: list[Case]) -> list[str]:
    """What the records cost a choice, told apart from the durable commit's wait."""
    durable, control = posts
    return [
        f"The choice with records: throughput ratio {durable.ratio:.3f} with durable commits, "
        f"{control.ratio:.3f} with `synchronous_commit = off` (the control, same rounds). "
        "The control's gap to 1 is the extension's own work; the difference between the two "
        "ratios is PostgreSQL waiting, at each commit, for its WAL to reach the disk, which "
        "proof of consent should have and which depends on the disk more than on the "
        "extension. A record is one transaction (the `SELECT set_config(...)` of its lock "
        "and statement timeouts, the record's `INSERT`, one commit; the policy revision is "
        "stored once per process); the choice without records touches no table."
    ]


def _result(
    cases: list[Case], checks: list[Check], rounds: int, seconds: int, elapsed: float
) -> Result:
    posts = [case for case in cases if case.candidate.endpoint.method == "POST"]
    rows: list[list[str]] = []
    ratio_rows: list[list[str]] = []
    for case in cases:
        for side in (case.candidate, case.baseline):
            e = side.endpoint
            rows.append(
                [
                    f"`{e.label}`",
                    case.name,
                    "session, CSRF token" if e.method == "POST" else (
                        "preferences" if e.headers else "none"
                    ),
                    f"{statistics.median(side.throughputs):.1f} req/s",
                    f"{statistics.median(r.p50_ms for r in side.runs):.1f} ms",
                    f"{statistics.median(r.p99_ms for r in side.runs):.1f} ms",
                    f"{sum(r.requests for r in side.runs):,}",
                ]
            )  # fmt: skip
        ratio_rows.append(
            [
                case.name,
                f"`{case.candidate.endpoint.label}` / `{case.baseline.endpoint.label}`",
                f"{case.ratio:.3f}",
                f"{min(case.ratios):.3f} to {max(case.ratios):.3f}",
                ("yes" if TARGET.met(case.ratio) else "no") if case.judged else "(control)",
            ]
        )
    judged = [case for case in cases if case.judged]
    worst = min(judged, key=lambda c: c.ratio)
    return Result(
        key=KEY,
        title="Saturation: throughput under uWSGI (2 processes), extension on against off",
        compared=(
            "Throughput at saturation of CKAN under uWSGI as ckan-docker runs it "
            "(ckan-docker-base's `DEFAULT_UWSGI_OPTS`: `--master --enable-threads "
            f"--lazy-apps -p {PROCESSES} -L -b 32768 --vacuum --harakiri 60`, its HTTP "
            "router in front, CKAN's `wsgi.py`), loaded by Debian's `wrk` with "
            f"{CONNECTIONS} connections ({PROCESSES} workers: a request always waits), kept "
            "alive by the router (`--http-keepalive`, the part of the nginx in front of "
            "ckan-docker's uWSGI). Pages: "
            "`GET /about` and `GET /user/login` on a server with `ckan.plugins = "
            f"cookieconsent` (catalogue `{CATALOGUE}`, so the banner shows), with no cookie "
            f"(`banner`) and with a valid `{PREFERENCES_COOKIE}` cookie made by a real "
            "`POST /cookies/consent` (`chosen`), against a server with `ckan.plugins =` "
            "(empty), no cookie. The choice: `POST /cookies/consent` (*Accept all*, one "
            "visit's session cookie and CSRF token, the page's Origin, `Sec-Fetch-Site: "
            "same-origin`; no preferences cookie, so each POST is a new visitor), answered "
            "303, with `ckanext.cookieconsent.records = true` against `false`; and, as a "
            "control not held to the target, records on with `synchronous_commit = off` on "
            "that server's database connections. All servers on one database, `debug = "
            "false`. A round runs each case's two sides one after the other, the order "
            "alternating from round to round and case to case."
        ),
        columns=[
            "",
            "case",
            "cookie or headers sent",
            "median throughput",
            "median p50 latency",
            "median p99 latency",
            "requests answered",
        ],
        rows=rows,
        ratio_name=f"throughput on / off, the lowest of the {len(judged)} cases ({worst.name})",
        ratio=worst.ratio,
        target=TARGET,
        notes=[
            f"Each ratio: median of {rounds} per-round throughput ratios, each side run for "
            f"{seconds} s of wrk per round (after {WARMUP_SECONDS} s of warm-up per side); "
            f"throughput is the answers wrk read per second; measured in {elapsed:.0f} s. "
            f"The target ({TARGET}) applies to each case's ratio but the control's.",
            *_commit_note(posts),
        ],
        tables=[
            Table(
                "Ratios, throughput on / off",
                ["case", "compared", "throughput ratio", "per-round range", f"{TARGET}"],
                ratio_rows,
            )
        ],
        checks=checks,
    )
