"""Benchmark `scale`: the consent records at a national portal's size (issue 12, goal 3).

N records (`--records`, default 1,000,000) are generated straight in PostgreSQL, with one
`INSERT … SELECT … FROM generate_series`, after one real choice made through a server so
that they answer the real policy revision (its row written by the extension itself). They
are spread over 400 days, 400 to 800 days old (old enough for a purge to take them all: a
purge refuses cut-offs younger than `cookie_max_age`), with a mix of answers (accept all,
refuse all, a choice per category; withdrawals and GPC signals refuse), of methods and of
languages; then `VACUUM (ANALYZE)`, as autovacuum would leave a table at rest.

Measured, on servers that only ever speak HTTP (the benchmark reads and writes
PostgreSQL directly only to generate and count rows):

- `cookieconsent_stats` through the API and the sysadmins' dashboard, as a sysadmin (an
  API token made with CKAN's CLI, in the `Authorization` header): median latency over a
  few requests each, at N/10 and at N records; absolute targets (≤ 1 s), no baseline.
- Memory: the server process's peak resident memory (`VmHWM` of /proc/PID/status, reset
  before each step through /proc/PID/clear_refs) above its resident memory before the
  step, for a full CSV export (read to the end, bytes and lines counted), the stats and
  the dashboard, on a fresh server per size, so that the growth at N/10 and at N compare.
- The cost of a choice (`POST /cookies/consent`, as visitor.py makes it) on a server whose
  table holds N records against one whose table started empty, side by side
  (`measure.compare`): the ratio of median latencies.
- A purge of the N records (`cookieconsent_record_purge` through the API, on a server of
  its own) while a client keeps making choices on another server: how many were answered,
  and recorded, during the purge, their latency against before it, the purge's duration.
"""

from __future__ import annotations

import datetime
import http.client
import json
import statistics
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import sqlalchemy as sa
from ckan_server import Server, Workspace, ckan  # pyright: ignore[reportAttributeAccessIssue]
from measure import Client, Comparison, Endpoint, Settings, compare
from report import Check, Result, Table, Target
from sqlalchemy.pool import NullPool
from visitor import CONSENT_PATH, consent_id, preferences_cookie, title, visit

KEY = "scale"
PLUGINS = ("cookieconsent",)
CATALOGUE = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
OPTIONS = {"ckanext.cookieconsent.catalogue": CATALOGUE, "ckanext.cookieconsent.records": "true"}
PAGE = "/about"
STATS_PATH = "/api/3/action/cookieconsent_stats"
DASHBOARD_PATH = "/ckan-admin/cookies"
EXPORT_PATH = "/ckan-admin/cookies/export.csv"
PURGE_PATH = "/api/3/action/cookieconsent_record_purge"

READ_TARGET = 1.0  # seconds, median, for the stats and the dashboard
CHOICE_TARGET = Target("<=", 1.05)  # latency of a choice at N records / at 0
MEMORY_BOUND_MB = 64.0  # a step's peak growth at N records
MEMORY_SLACK_MB = 16.0  # the growth at N minus the growth at N/10
READ_ROUNDS = (3, 5)  # requests per read endpoint: at least, at most (--rounds between)
READ_SECONDS = 60.0  # no further request to a read endpoint once this long spent on it
HTTP_TIMEOUT = 900.0  # seconds a slow read (a stats of every row in Python) may take

NEWEST_DAYS, OLDEST_DAYS = 400, 800  # the generated records' ages
PURGE_OLDER_THAN = "399"  # days: every generated record, none of the real choices
SHARES = {"accept all": 0.45, "refuse all": 0.35}  # the rest choose category by category
METHOD_SHARES = {"banner": 0.80, "policy": 0.12, "embed": 0.04, "withdrawal": 0.03, "gpc": 0.01}
REFUSING_METHODS = ("withdrawal", "gpc")  # last in METHOD_SHARES: they refuse everything
FRENCH_SHARE = 0.3  # the rest in English
RETURNING_EVERY = 7  # one record in 7 has the consent id of the one before (a new choice)
SEED = 0.12  # PostgreSQL's setseed: the same records run after run

BEFORE_SECONDS, BEFORE_POSTS = 5.0, 500  # choices timed before the purge: at most
PURGE_SECONDS = 900.0  # cap on the purge, and on the choices made while it runs
PURGE_POSTS = 200_000

ADMIN = "scale-admin"
STEPS = ("export", "stats", "dashboard")  # the reads whose memory is measured, in order


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    total = settings.records
    big_url = workspace.database("ckan_scale")
    empty_url = workspace.database("ckan_scale_empty")
    at_n = workspace.server(plugins=PLUGINS, options={**OPTIONS, "sqlalchemy.url": big_url})
    at_0 = workspace.server(plugins=PLUGINS, options={**OPTIONS, "sqlalchemy.url": empty_url})
    progress("servers up: choices on a database to fill, choices on an empty one")
    engine = sa.create_engine(big_url, poolclass=NullPool)
    try:
        # The revision row the records answer, written by the extension: one real choice.
        preferences_cookie(at_n.url, PAGE)
        preferences_cookie(at_0.url, PAGE)
        admin = {"Authorization": _sysadmin_token(at_n)}
        progress("a real choice made; sysadmin token created")

        generated: list[Generated] = []
        reads: list[Reads] = []
        reader = at_n
        sizes = [total // 10, total] if total >= 10 else [total]
        for size in sizes:
            done = sum(g.rows for g in generated)
            generated.append(_generate(engine, done, size - done))
            progress(f"{size:,} records generated ({generated[-1].seconds:.1f} s)")
            reader = workspace.server(
                plugins=PLUGINS,
                options={
                    **OPTIONS,
                    "sqlalchemy.url": big_url,
                    "ckan.site_title": f"Reader at {size:,} records",
                },
            )
            reads.append(_reads(engine, reader, admin, settings, progress))

        starts = [_count(engine), _count_at(empty_url)]
        comparison = compare(
            [_choice("at N records", at_n), _choice("at 0 records", at_0)], settings, progress
        )
        ratio = comparison.ratio("at N records", "at 0 records", "latency")
        purge = _purge_during_choices(engine, reader, at_n, admin, progress)
    finally:
        engine.dispose()
    return _result(total, generated, reads, starts, comparison, ratio, purge)


# --- Generating the records ------------------------------------------------------------


@dataclass
class Generated:
    rows: int
    seconds: float  # the INSERT
    vacuum_seconds: float


def _generate(engine: sa.Engine, start: int, rows: int) -> Generated:
    """Records `start` to `start + rows - 1` of the series, answering the stored revision
    (that of the first record, a real choice), then VACUUM (ANALYZE)."""
    with engine.begin() as connection:
        revision, choices, policy = connection.execute(
            sa.text(
                "SELECT r.revision, r.choices, v.catalogue FROM cookieconsent_record r"
                " JOIN cookieconsent_revision v USING (revision) ORDER BY r.id LIMIT 1"
            )
        ).one()
        required = {c["id"] for c in policy["categories"] if c["required"]}
        started = time.perf_counter()
        connection.execute(sa.text("SELECT setseed(:seed)"), {"seed": SEED})
        sql, params = _insert(revision, sorted(choices), required)
        connection.execute(sa.text(sql), {**params, "first": start, "last": start + rows - 1})
        seconds = time.perf_counter() - started
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM (ANALYZE) cookieconsent_record"))
    return Generated(rows, seconds, time.perf_counter() - started)


def _insert(revision: str, categories: list[str], required: set[str]) -> tuple[str, dict]:
    """The INSERT … SELECT of records `:first` to `:last` of the series. Per row, `u`
    draws the answer, `m` the method; one record in RETURNING_EVERY is a returning
    visitor's (the consent id of the record before)."""
    refusing = 1 - sum(METHOD_SHARES[m] for m in REFUSING_METHODS)
    accept = SHARES["accept all"]
    refuse = accept + SHARES["refuse all"]
    optional = (
        f"CASE WHEN m >= {refusing:.4f} THEN false WHEN u < {accept} THEN true"
        f" WHEN u < {refuse} THEN false ELSE random() < 0.5 END"
    )
    params: dict[str, Any] = {"revision": revision}
    pairs = []
    for i, category in enumerate(categories):
        params[f"k{i}"] = category
        pairs.append(f"CAST(:k{i} AS text), {'true' if category in required else optional}")
    bound, whens = 0.0, []
    for method, share in list(METHOD_SHARES.items())[:-1]:
        bound += share
        whens.append(f"WHEN m < {bound:.4f} THEN '{method}'")
    method = f"CASE {' '.join(whens)} ELSE '{list(METHOD_SHARES)[-1]}' END"
    visitor = f"g - (g % {RETURNING_EVERY} = {RETURNING_EVERY - 1})::int"
    sql = f"""
        INSERT INTO cookieconsent_record
            (consent_id, revision, choices, created, method, language)
        SELECT
            substr(md5('scale-' || ({visitor})), 1, 16),
            :revision,
            jsonb_build_object({", ".join(pairs)}),
            now() - interval '{NEWEST_DAYS} days'
                - random() * interval '{OLDEST_DAYS - NEWEST_DAYS} days',
            {method},
            CASE WHEN random() < {FRENCH_SHARE} THEN 'fr' ELSE 'en' END
        FROM (
            SELECT g, random() AS u, random() AS m FROM generate_series(:first, :last) AS g
            OFFSET 0  -- a fence: u and m drawn once per row, not once per use
        ) AS series
    """
    return sql, params


# --- Reading: stats, dashboard, export, memory --------------------------------------


@dataclass(frozen=True)
class Step:
    """A read step's memory, in MB: resident before, peak during (VmHWM, reset before)."""

    rss_before: float
    peak: float

    @property
    def growth(self) -> float:
        return self.peak - self.rss_before


@dataclass
class Export:
    status: int = 0
    seconds: float = 0.0
    first_byte: float = 0.0  # seconds until the first byte of the body
    size: int = 0  # bytes
    lines: int = 0
    tail: bytes = b""  # the last bytes: a "# export failed" line would be there


@dataclass
class Reads:
    """What the reads at one table size gave."""

    records: int
    stats: list[float] = field(default_factory=list)  # seconds per request
    dashboard: list[float] = field(default_factory=list)
    export: Export = field(default_factory=Export)
    memory: dict[str, Step] = field(default_factory=dict)  # stats, dashboard, export
    mismatches: list[str] = field(default_factory=list)  # stats against SQL's counts
    idle_in_transaction: int = 0  # the server's connections, after the export
    peak_reset: bool = True  # VmHWM could be reset before each step

    @property
    def export_complete(self) -> bool:
        return (
            self.export.status == 200
            and self.export.lines == self.records + 1  # the header
            and b"# export failed" not in self.export.tail
        )


def _reads(
    engine: sa.Engine,
    reader: Server,
    admin: Mapping[str, str],
    settings: Settings,
    progress: Callable[[str], None],
) -> Reads:
    """Stats, dashboard, export on a fresh server, each step's memory measured."""
    reads = Reads(_count(engine))
    period = _period()
    # Templates, translations, the code paths: loaded once, before memory is measured.
    nothing = "?" + urlencode({"since": "2000-01-01", "until": "2000-01-01"})
    for path in (STATS_PATH, DASHBOARD_PATH, EXPORT_PATH):
        status, body, _ = _request(reader, "GET", path + nothing, headers=admin)
        if status != 200:
            raise RuntimeError(f"GET {path}{nothing} answered {status}: {body[:300]!r}")
    count = max(READ_ROUNDS[0], min(settings.rounds, READ_ROUNDS[1]))

    def step(name: str, work: Callable[[], None]) -> None:
        reads.peak_reset &= _reset_peak(reader.pid)
        before = _memory(reader.pid)["VmRSS"]
        work()
        reads.memory[name] = Step(before, _memory(reader.pid)["VmHWM"])

    def timed(path: str, into: list[float], check: Callable[[int, bytes], None]) -> None:
        spent = 0.0
        while len(into) < count and (not into or spent < READ_SECONDS):
            status, body, seconds = _request(reader, "GET", path + period, headers=admin)
            check(status, body)
            into.append(seconds)
            spent += seconds

    def stats_answer(status: int, body: bytes) -> None:
        if status != 200:
            raise RuntimeError(f"GET {STATS_PATH} answered {status}: {body[:300]!r}")
        if not reads.stats:  # the first answer, checked against SQL
            reads.mismatches = _stats_mismatches(engine, json.loads(body)["result"])

    def page_answer(status: int, body: bytes) -> None:
        if status != 200:
            raise RuntimeError(f"GET {DASHBOARD_PATH} answered {status} {title(body)}")

    def export() -> None:
        reads.export = _export(reader, EXPORT_PATH + period, admin)

    # Memory a step frees stays with the process, and could hide the next step's growth:
    # the export (judged alone) first, then the stats and the dashboard (which calls the
    # stats: judged together).
    step("export", export)
    step("stats", lambda: timed(STATS_PATH, reads.stats, stats_answer))
    step("dashboard", lambda: timed(DASHBOARD_PATH, reads.dashboard, page_answer))
    reads.idle_in_transaction = _idle_in_transaction(engine)
    progress(
        f"{reads.records:,} records: stats {statistics.median(reads.stats):.3f} s, dashboard "
        f"{statistics.median(reads.dashboard):.3f} s, export {reads.export.seconds:.1f} s; "
        "peak growth " + ", ".join(f"{name} {m.growth:+.1f} MB" for name, m in reads.memory.items())
    )
    return reads


def _period() -> str:
    """The query string of a period holding every record, generated or real."""
    today = datetime.datetime.now(datetime.timezone.utc).date()
    since = today - datetime.timedelta(days=OLDEST_DAYS + 2)
    return "?" + urlencode({"since": since.isoformat(), "until": today.isoformat()})


def _stats_mismatches(engine: sa.Engine, result: dict[str, Any]) -> list[str]:
    """How the action's totals differ from SQL's straightforward counts (none: [])."""
    with engine.connect() as connection:
        total = connection.execute(sa.text("SELECT count(*) FROM cookieconsent_record")).scalar()
        required = set(
            connection.execute(
                sa.text(
                    "SELECT DISTINCT c->>'id' FROM cookieconsent_revision,"
                    " jsonb_array_elements(catalogue->'categories') AS c"
                    " WHERE (c->>'required')::boolean"
                )
            ).scalars()
        )
        rows = connection.execute(
            sa.text(
                "SELECT key, count(*) FILTER (WHERE value = 'true'::jsonb),"
                " count(*) FILTER (WHERE value = 'false'::jsonb)"
                " FROM cookieconsent_record, jsonb_each(choices) GROUP BY key"
            )
        ).all()
    expected = {
        key: {"allowed": allowed, "refused": refused}
        for key, allowed, refused in rows
        if key not in required
    }
    mismatches = []
    if result.get("total") != total:
        mismatches.append(f"total {result.get('total')}, SQL {total}")
    if result.get("categories") != expected:
        mismatches.append(f"categories {result.get('categories')}, SQL {expected}")
    per_revision = sum(r["records"] for r in result.get("revisions", {}).values())
    if per_revision != total:
        mismatches.append(f"records per revision add up to {per_revision}, SQL {total}")
    return mismatches


def _export(server: Server, path: str, headers: Mapping[str, str]) -> Export:
    """GET the CSV export, read to the end in 64 KB pieces: only counted, never kept."""
    export = Export()
    connection = _connection(server)
    try:
        started = time.perf_counter()
        connection.request("GET", path, headers=dict(headers))
        response = connection.getresponse()
        export.status = response.status
        tail = b""
        while piece := response.read1(65536):
            if not export.size:
                export.first_byte = time.perf_counter() - started
            export.size += len(piece)
            export.lines += piece.count(b"\n")
            tail = (tail + piece)[-300:]
            if time.perf_counter() - started > HTTP_TIMEOUT:
                raise RuntimeError(f"GET {path}: the export took over {HTTP_TIMEOUT:g} s")
        export.seconds = time.perf_counter() - started
        export.tail = tail
    finally:
        connection.close()
    return export


def _idle_in_transaction(engine: sa.Engine) -> int:
    """The database's connections left idle in a transaction (a session not closed),
    once any that the server is still finishing have had two seconds to end."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND state LIKE 'idle in transaction%' AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 2.0
    while True:
        with engine.connect() as connection:
            idle = int(connection.execute(query).scalar() or 0)
        if not idle or time.monotonic() >= deadline:
            return idle
        time.sleep(0.1)


def _memory(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM, ... of a process, in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if value.strip().endswith(" kB"):
            values[name] = int(value.split()[0]) / 1024
    return values


def _reset_peak(pid: int) -> bool:
    """Reset the process's VmHWM to its current resident size (Linux's clear_refs 5)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as control:
            control.write("5")
    except OSError:
        return False
    return True


# --- Choices and the purge ------------------------------------------------------------


def _choice(label: str, server: Server) -> Endpoint:
    """The banner's "Accept all" of a new visitor (visitor.py): one new record each."""
    with Client(server.url + PAGE) as client:
        body, headers = visit(client, server.url, PAGE).accept_all()
    return Endpoint(
        label, server.url + CONSENT_PATH, method="POST", body=body, headers=headers,
        expect_status=303,
    )  # fmt: skip


@dataclass
class Posts:
    """The choices of one phase: latency of each answered one, and the failures."""

    latencies: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def row(self, name: str, recorded: int | str) -> list[str]:
        timing = (
            [
                f"{statistics.median(self.latencies) * 1e3:.1f} ms",
                f"{max(self.latencies) * 1e3:.1f} ms",
            ]
            if self.latencies
            else ["-", "-"]
        )
        return [name, str(len(self.latencies)), str(len(self.failures)), str(recorded), *timing]


@dataclass
class Purge:
    generated_old: int = 0  # records older than the cut-off before the purge
    before: Posts = field(default_factory=Posts)
    during: Posts = field(default_factory=Posts)
    recorded: int = 0  # new records written by the choices of both phases
    status: int = 0
    answer: dict[str, Any] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    left_old: int = -1  # records older than the cut-off after the purge

    @property
    def deleted(self) -> int:
        return int(self.answer.get("records", -1))


def _purge_during_choices(
    engine: sa.Engine,
    purger: Server,
    chooser: Server,
    admin: Mapping[str, str],
    progress: Callable[[str], None],
) -> Purge:
    """Choices on `chooser` for a few seconds, then the purge on `purger` and choices on
    `chooser` until it ends; what was answered, what was recorded, how long it took."""
    purge = Purge()
    cut_off = f"now() - interval '{PURGE_OLDER_THAN} days'"
    with engine.connect() as connection:
        purge.generated_old, last_id = connection.execute(
            sa.text(
                f"SELECT count(*) FILTER (WHERE created < {cut_off}), coalesce(max(id), 0)"
                " FROM cookieconsent_record"
            )
        ).one()
    endpoint = _choice("choice during the purge", chooser)
    client = Client(endpoint.url)

    def post(into: Posts) -> None:
        started = time.perf_counter()
        try:
            status, headers, body = client.fetch(
                "POST", body=endpoint.body, headers=endpoint.headers
            )
        except Exception as error:  # a timeout, a refused connection
            into.failures.append(f"{type(error).__name__}: {error}"[:200])
            return
        if status != 303 or consent_id(headers) is None:
            into.failures.append(f"POST answered {status} {title(body)}".rstrip())
        else:
            into.latencies.append(time.perf_counter() - started)

    def purge_request() -> None:
        started = time.perf_counter()
        body = json.dumps({"older_than": PURGE_OLDER_THAN}).encode()
        headers = {**admin, "Content-Type": "application/json"}
        try:
            purge.status, answer, _ = _request(purger, "POST", PURGE_PATH, body, headers)
            purge.answer = json.loads(answer).get("result") or {}
            if purge.status != 200:
                purge.error = f"answered {purge.status}: {answer[:300]!r}"
        except Exception as error:
            purge.error = f"{type(error).__name__}: {error}"[:300]
        finally:
            purge.seconds = time.perf_counter() - started

    try:
        deadline = time.monotonic() + BEFORE_SECONDS
        while len(purge.before.latencies) < BEFORE_POSTS and time.monotonic() < deadline:
            post(purge.before)
        thread = threading.Thread(target=purge_request, daemon=True)
        thread.start()
        deadline = time.monotonic() + PURGE_SECONDS
        while thread.is_alive() and time.monotonic() < deadline:
            if len(purge.during.latencies) + len(purge.during.failures) >= PURGE_POSTS:
                break
            post(purge.during)
        thread.join(max(0.0, deadline - time.monotonic()) + 5)
        if thread.is_alive():
            purge.error = f"still running after {PURGE_SECONDS:g} s"
    finally:
        client.close()
    with engine.connect() as connection:
        purge.recorded, purge.left_old = connection.execute(
            sa.text(
                f"SELECT count(*) FILTER (WHERE id > :last),"
                f" count(*) FILTER (WHERE created < {cut_off}) FROM cookieconsent_record"
            ),
            {"last": last_id},
        ).one()
    progress(
        f"purge: {purge.deleted:,} deleted in {purge.seconds:.2f} s; "
        f"{len(purge.during.latencies)} choices answered during it, "
        f"{len(purge.during.failures)} failed"
    )
    return purge


# --- HTTP, CLI, SQL ------------------------------------------------------------------


def _connection(server: Server) -> http.client.HTTPConnection:
    parts = urlsplit(server.url)
    if parts.hostname != "127.0.0.1":
        raise ValueError(f"benchmarks send traffic to loopback only, not {parts.hostname}")
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=HTTP_TIMEOUT)


def _request(
    server: Server,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: Mapping[str, str] = {},
) -> tuple[int, bytes, float]:
    """One request on a connection of its own, with a timeout for slow answers (a read
    of a whole table): the status, the body, and the seconds until the body was read."""
    connection = _connection(server)
    try:
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=dict(headers))
        response = connection.getresponse()
        content = response.read()
        return response.status, content, time.perf_counter() - started
    finally:
        connection.close()


def _sysadmin_token(server: Server) -> str:
    """An API token of a new sysadmin, made with CKAN's CLI on the server's database."""
    ckan(
        server.ini, "user", "add", ADMIN, f"email={ADMIN}@example.org",
        "password=scale-benchmark-password",
    )  # fmt: skip
    ckan(server.ini, "sysadmin", "add", ADMIN)
    output = ckan(server.ini, "user", "token", "add", ADMIN, "scale", "--quiet")
    return output.strip().splitlines()[-1].strip()


def _count(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.text("SELECT count(*) FROM cookieconsent_record")).scalar() or 0
        )


# --- The result ----------------------------------------------------------------------


def _result(
    total: int,
    generated: list[Generated],
    reads: list[Reads],
    starts: list[int],
    comparison: Comparison,
    ratio: float,
    purge: Purge,
) -> Result:
    full = reads[-1]
    small = reads[0] if len(reads) > 1 else None
    stats_median = statistics.median(full.stats)
    dashboard_median = statistics.median(full.dashboard)

    def mb(value: float) -> str:
        return f"{value:+.1f} MB"

    rows = []
    for r in reads:
        e = r.export
        rows.append([
            f"{r.records:,}",
            f"{statistics.median(r.stats):.3f} s ({len(r.stats)})",
            f"{statistics.median(r.dashboard):.3f} s ({len(r.dashboard)})",
            f"{e.seconds:.2f} s, {e.size / 1e6:.1f} MB, {e.lines:,} lines, "
            f"first byte {e.first_byte:.3f} s",
            f"{r.memory['export'].rss_before:.0f} MB",
            " / ".join(mb(r.memory[name].growth) for name in STEPS),
        ])  # fmt: skip

    def growth(r: Reads, names: tuple[str, ...]) -> float:
        return max(r.memory[name].growth for name in names)

    def memory_check(what: str, names: tuple[str, ...]) -> Check:
        at_n = growth(full, names)
        bounded = at_n <= MEMORY_BOUND_MB
        text = f"{what}: peak RSS growth at {total:,} records {at_n:.1f} MB (≤ {MEMORY_BOUND_MB:g})"
        if small is not None:
            at_small = growth(small, names)
            bounded = bounded and at_n - at_small <= MEMORY_SLACK_MB
            text += (
                f", {at_small:.1f} MB at {small.records:,} (at most {MEMORY_SLACK_MB:g} MB "
                "more at N)"
            )
        return Check(text, bounded and full.peak_reset)

    at_n, at_0 = comparison.timings["at N records"], comparison.timings["at 0 records"]
    ratios = comparison.ratios("at N records", "at 0 records", "latency")
    choice_rows = [
        [f"`{label}`", f"POST {CONSENT_PATH}", start, f"{t.median_latency * 1e3:.2f} ms",
         str(t.requests)]
        for label, t, start in (
            ("at N records", at_n, f"{starts[0]:,}"), ("at 0 records", at_0, f"{starts[1]:,}"),
        )
    ]  # fmt: skip
    before, during = purge.before, purge.during
    answered = len(before.latencies) + len(during.latencies)
    mismatches = [m for r in reads for m in r.mismatches]
    checks = [
        Check(
            f"`cookieconsent_stats` median at {total:,} records ≤ {READ_TARGET:g} s "
            f"({stats_median:.3f} s)",
            stats_median <= READ_TARGET,
        ),
        Check(
            f"dashboard median at {total:,} records ≤ {READ_TARGET:g} s ({dashboard_median:.3f} s)",
            dashboard_median <= READ_TARGET,
        ),
        Check(
            "the statistics equal SQL's own counts (total, per category, per revision)"
            + (f": {'; '.join(mismatches)}"[:400] if mismatches else ""),
            not mismatches,
        ),
        memory_check("stats and dashboard", ("stats", "dashboard")),
        Check(
            "the CSV export is complete (one line per record and the header, no "
            f"`# export failed`) at every size ({', '.join(f'{r.export.lines:,}' for r in reads)}"
            " lines)",
            all(r.export_complete for r in reads),
        ),
        memory_check("the CSV export streams with bounded memory", ("export",)),
        Check(
            "no database connection left idle in a transaction after an export "
            f"({', '.join(str(r.idle_in_transaction) for r in reads)})",
            all(r.idle_in_transaction == 0 for r in reads),
        ),
        Check(
            f"cost of a choice, median latency at {full.records:,} records / at 0: "
            f"{ratio:.3f} (target {CHOICE_TARGET})",
            CHOICE_TARGET.met(ratio),
        ),
        Check(
            f"choices keep working during the purge: {len(during.latencies)} answered while "
            f"it ran, {len(before.failures) + len(during.failures)} failed, "
            f"{purge.recorded} of {answered} recorded",
            len(during.latencies) > 0
            and not before.failures
            and not during.failures
            and purge.recorded == answered,
        ),
        Check(
            f"the purge deleted every generated record ({purge.deleted:,} of "
            f"{purge.generated_old:,}; {purge.left_old} left older than the cut-off)"
            + (f"; {purge.error}" if purge.error else ""),
            not purge.error
            and purge.deleted == purge.generated_old == total
            and purge.left_old == 0,
        ),
    ]
    insert_seconds = sum(g.seconds for g in generated)
    vacuum_seconds = sum(g.vacuum_seconds for g in generated)
    notes = [
        f"Choice cost: median of {len(ratios)} per-round latency ratios, per-round range "
        f"{min(ratios):.3f} to {max(ratios):.3f}; each timed choice writes a record, so "
        f"the empty table holds up to {at_0.requests + 1:,} records by the end.",
        f"Generated {total:,} records in {insert_seconds:.1f} s "
        f"({total / max(insert_seconds, 1e-9):,.0f} rows/s; VACUUM (ANALYZE) "
        f"{vacuum_seconds:.1f} s), in {len(generated)} step(s), straight in PostgreSQL: "
        "one `INSERT … SELECT … FROM generate_series`, after one real choice that wrote "
        "the policy revision the records answer. Ages uniform between "
        f"{NEWEST_DAYS} and {OLDEST_DAYS} days; answers {SHARES['accept all']:.0%} accept "
        f"all, {SHARES['refuse all']:.0%} refuse all, the rest category by category; "
        + ", ".join(f"{m} {s:.0%}" for m, s in METHOD_SHARES.items())
        + f" (withdrawals and GPC refuse all); French {FRENCH_SHARE:.0%}, English the "
        f"rest; one record in {RETURNING_EVERY} a returning visitor's.",
        "Memory: the CKAN server process's resident memory (`VmRSS` of /proc/PID/status) "
        "before each step, and its peak during the step (`VmHWM`, reset to the resident "
        "size before the step by writing 5 to /proc/PID/clear_refs), on a fresh server per "
        "table size, warmed by one request of each kind on an empty period first. In this "
        "order, the export first: memory a step frees stays with the process and could "
        "hide the next step's growth; the dashboard, which calls the stats, is judged with "
        "them. A growth that does not grow with the records is judged as at most "
        f"{MEMORY_BOUND_MB:g} MB at N and at most {MEMORY_SLACK_MB:g} MB more than at N/10. The "
        "stats and the dashboard are timed on the period from "
        f"{OLDEST_DAYS + 2} days ago to today (every record), as a sysadmin with an API "
        "token in the `Authorization` header.",
    ]
    notes.append(
        "The export's growth includes waitress's output buffer: a response's bytes are "
        "appended to an in-memory buffer that sending only reads forward, replaced by a "
        "new one once 16 MB were written (`outbuf_high_watermark`): up to ~16 MB per "
        "streaming response, whatever its length, and freed when it ends."
    )
    if not full.peak_reset:
        notes.append("VmHWM could not be reset: the peaks are the process's since it started.")
    purge_table = Table(
        f"Purge of {purge.generated_old:,} records while a visitor keeps choosing",
        ["phase", "choices answered (303)", "failed", "recorded", "median latency",
         "max latency"],
        [
            before.row("before the purge", "-"),
            during.row("during the purge", "-"),
            ["both", str(answered), str(len(before.failures) + len(during.failures)),
             str(purge.recorded), "", ""],
        ],
        note=(
            f"`POST {PURGE_PATH}` with `older_than` {PURGE_OLDER_THAN} days (a sysadmin's "
            f"token) on a server of its own took {purge.seconds:.2f} s and deleted "
            f"{purge.deleted:,} records; meanwhile one client, one choice at a time on a "
            "keep-alive connection, made choices on another server on the same database "
            f"(before it, for {BEFORE_SECONDS:g} s or {BEFORE_POSTS} choices). Every choice "
            "is a new visitor's, so each must add a record: the new rows are counted after."
        ),
    )  # fmt: skip
    return Result(
        key=KEY,
        title=f"Records at national scale: {total:,} consent records",
        compared=(
            f"`GET {STATS_PATH}`, `GET {DASHBOARD_PATH}` (as a sysadmin) and the CSV export "
            f"`GET {EXPORT_PATH}` at {' and '.join(f'{r.records:,}' for r in reads)} records "
            "generated in PostgreSQL (`ckan.plugins = cookieconsent`, catalogue "
            f"`{CATALOGUE}`, records on): median latency (targets ≤ {READ_TARGET:g} s, "
            "absolute) and the server's memory; the cost of a choice at "
            f"{full.records:,} records against an empty table, side by side; a purge of the "
            f"{total:,} records while choices go on."
        ),
        columns=["records", "stats median", "dashboard median", "CSV export",
                 "RSS before", "peak RSS growth: export / stats / dashboard"],
        rows=rows,
        ratio_name="latency of a choice at N records / at 0",
        ratio=ratio,
        target=CHOICE_TARGET,
        notes=notes,
        tables=[
            Table("Cost of a choice", ["", "request", "records at the start",
                                       "median latency", "requests timed"], choice_rows),
            purge_table,
        ],
        checks=checks,
    )  # fmt: skip


def _count_at(url: str) -> int:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        return _count(engine)
    finally:
        engine.dispose()
