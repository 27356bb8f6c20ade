"""Benchmark `pages`: what the extension costs a page, on /about and /user/login.

Two CKAN servers on one database: `ckan.plugins = cookieconsent` with the example
catalogue (`matomo-youtube.yaml`: a category that needs consent, so the banner shows), and
`ckan.plugins =` (empty: the extension disabled). Production settings: `debug = false`,
webassets bundled and minified (`ckan.webassets.debug` false), logging at WARNING.

Three ways to ask for each page, side by side, interleaved request by request (see
`interleaved()`):

- `banner`: the enabled server, no cookie: a first visit, the banner is rendered (with its
  form, CSRF token and category switches);
- `chosen`: the enabled server, with a valid preferences cookie (made by a real
  `POST /cookies/consent`, "Accept all"): a visitor who has chosen, no banner;
- `disabled`: the disabled server, no cookie.

Judged: the median latency ratio, enabled / disabled, of each page and scenario; the
highest of the four must stay within the target.

Why interleaved, not `measure.compare`'s batches: a page takes 10 to 30 ms, and a
difference of a few per cent is the question; on a shared machine whose load swings
within seconds, batches of 3 s per endpoint put whole batches in a quiet or a busy spell
(per-round ratios of 0.6 to 2.3 were seen). Sending one request to each endpoint in turn
exposes all three to the same spells.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from email.message import Message
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from ckan_server import Server, Workspace
from measure import Client, Comparison, Endpoint, Settings, Timings
from report import Check, Result, Table, Target

KEY = "pages"
PLUGINS = ("cookieconsent",)
CATALOGUE = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
OPTIONS = {"ckanext.cookieconsent.catalogue": CATALOGUE}
PAGES = ("/about", "/user/login")
TARGET = Target("<=", 1.03)
SCENARIOS = ("banner", "chosen")  # the enabled server's two cases, each against "disabled"

SESSION_COOKIE = "ckan"  # SESSION_COOKIE_NAME's default
PREFERENCES_COOKIE = "cookies_preferences"  # ckanext.cookieconsent.cookie_name's default
CSRF_FIELD = "_csrf_token"  # WTF_CSRF_FIELD_NAME's default
BANNER_MARK = b'id="cookieconsent-banner"'
SCRIPT_MARK = b'id="cookieconsent-settings"'  # the extension's script settings, every page
_CSRF_INPUT = re.compile(
    rf'<input\b[^>]*\bname="{CSRF_FIELD}"[^>]*\bvalue="([^"]+)"'
    rf'|<input\b[^>]*\bvalue="([^"]+)"[^>]*\bname="{CSRF_FIELD}"'
)

_migrated: set[str] = set()


def enabled_server(workspace: Workspace, threads: int = 1) -> Server:
    """The extension's server for `pages`, `weight` and `paint` (one configuration, so one
    server for all three), with the extension's tables (consent records are on by default)."""
    ini = workspace.configure(plugins=PLUGINS, options=OPTIONS)
    if str(ini) not in _migrated:
        workspace.ckan(ini, "db", "upgrade", "-p", "cookieconsent")
        _migrated.add(str(ini))
    return workspace.server(plugins=PLUGINS, options=OPTIONS, threads=threads)


def disabled_server(workspace: Workspace, threads: int = 1) -> Server:
    return workspace.server(plugins=[], threads=threads)


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    on = enabled_server(workspace)
    off = disabled_server(workspace)
    progress("servers up: extension enabled, extension disabled")
    preferences = preferences_cookie(on)
    progress(f"preferences cookie: {preferences[:24]}...")
    chosen = {"Cookie": f"{PREFERENCES_COOKIE}={preferences}"}

    checks: list[Check] = []
    comparisons: dict[str, Comparison] = {}
    sizes: dict[str, int] = {}
    for page in PAGES:
        endpoints = {
            "banner": Endpoint(f"{page} banner", on.url + page),
            "chosen": Endpoint(f"{page} chosen", on.url + page, headers=chosen),
            "disabled": Endpoint(f"{page} disabled", off.url + page),
        }
        bodies = {case: _get(e) for case, e in endpoints.items()}
        sizes.update({endpoints[case].label: len(body) for case, body in bodies.items()})
        checks += [
            Check(f"`{page}` enabled, no cookie: the banner is in the page",
                  BANNER_MARK in bodies["banner"]),
            Check(f"`{page}` enabled, preferences cookie: no banner, the extension's script "
                  "settings are", BANNER_MARK not in bodies["chosen"]
                  and SCRIPT_MARK in bodies["chosen"]),
            Check(f"`{page}` disabled: nothing of the extension",
                  BANNER_MARK not in bodies["disabled"]
                  and SCRIPT_MARK not in bodies["disabled"]),
        ]  # fmt: skip
        progress(f"timing {page}")
        comparisons[page] = interleaved(list(endpoints.values()), settings, progress)

    rows: list[list[str]] = []
    ratio_rows: list[list[str]] = []
    latency_ratios: list[float] = []
    seconds = 0.0
    for page, comparison in comparisons.items():
        seconds += comparison.seconds
        for label, t in comparison.timings.items():
            rows.append(
                [
                    f"`{label}`",
                    f"GET {page}",
                    "preferences" if t.endpoint.headers else "none",
                    f"{t.median_latency * 1e3:.2f} ms",
                    f"{t.median_throughput:.1f} req/s",
                    str(t.requests),
                    f"{sizes[label]:,}",
                ]
            )
        baseline = f"{page} disabled"
        for case in SCENARIOS:
            candidate = f"{page} {case}"
            latency = comparison.ratios(candidate, baseline, "latency")
            throughput = comparison.ratios(candidate, baseline, "throughput")
            latency_ratios.append(comparison.ratio(candidate, baseline, "latency"))
            ratio_rows.append(
                [
                    f"`{page}`",
                    case,
                    f"{latency_ratios[-1]:.3f}",
                    f"{min(latency):.3f} to {max(latency):.3f}",
                    f"{comparison.ratio(candidate, baseline, 'throughput'):.3f}",
                    f"{min(throughput):.3f} to {max(throughput):.3f}",
                    "yes" if TARGET.met(latency_ratios[-1]) else "no",
                ]
            )

    worst = max(latency_ratios)
    return Result(
        key=KEY,
        title="Pages: /about and /user/login with the extension enabled against disabled",
        compared=(
            "Latency and throughput of `GET /about` and `GET /user/login` on a CKAN server "
            f"with `ckan.plugins = cookieconsent` (catalogue `{CATALOGUE}`, so the banner "
            "shows) against a CKAN server with `ckan.plugins =` (empty), both on the same "
            "database, `debug = false` (webassets bundled and minified), side by side in the "
            "same rounds, interleaved request by request (one to each in turn, the order "
            "rotating). The enabled server is asked two ways: `banner`, no cookie (a first "
            "visit: the banner, its form, CSRF token and switches are rendered, and a session "
            f"cookie is set for the token), and `chosen`, with a valid `{PREFERENCES_COOKIE}` "
            "cookie made beforehand by a real `POST /cookies/consent` (*Accept all*): no "
            "banner. The `disabled` server gets no cookie."
        ),
        columns=[
            "",
            "request",
            "cookie sent",
            "median latency",
            "median throughput",
            "requests timed",
            "page bytes",
        ],
        rows=rows,
        ratio_name="latency enabled / disabled, the highest of the 4 (2 pages, 2 scenarios)",
        ratio=worst,
        target=TARGET,
        notes=[
            "Each ratio: median of the per-round ratios of the rounds' median latencies "
            f"(resp. throughputs), {settings.rounds} rounds per page, each of up to "
            f"{settings.requests} requests per endpoint and {settings.seconds:g} s per "
            "endpoint; throughput here is requests per second of time spent waiting on that "
            f"endpoint (1 / mean latency); measured in {seconds:.0f} s. The target "
            f"({TARGET}) applies to each latency ratio.",
        ],
        tables=[
            Table(
                "Ratios, enabled / disabled",
                [
                    "page",
                    "enabled, scenario",
                    "latency ratio",
                    "per-round range",
                    "throughput ratio",
                    "per-round range",
                    f"latency {TARGET}",
                ],
                ratio_rows,
            )
        ],
        checks=checks,
    )


def interleaved(
    endpoints: Sequence[Endpoint],
    settings: Settings,
    progress: Callable[[str], None] = lambda _: None,
) -> Comparison:
    """Like `measure.compare`, but a round sends one request to each endpoint in turn
    (the order rotating from one turn to the next) rather than a batch to each, so that a
    change in the machine's load hits every endpoint alike. A round ends after
    `settings.requests` turns or `settings.seconds` per endpoint, whichever comes first;
    the warm-up likewise. An endpoint's throughput in a round: its requests divided by
    the time spent waiting for them."""
    started = time.perf_counter()
    clients = {e.label: Client(e.url) for e in endpoints}
    timings = {e.label: Timings(e) for e in endpoints}
    n = len(endpoints)
    clock = time.perf_counter

    def turns(count: int, seconds: float) -> dict[str, list[float]]:
        latencies: dict[str, list[float]] = {e.label: [] for e in endpoints}
        deadline = clock() + seconds * n
        for turn in range(count):
            for endpoint in (*endpoints[turn % n :], *endpoints[: turn % n]):
                start = clock()
                clients[endpoint.label].send(endpoint)
                latencies[endpoint.label].append(clock() - start)
            if clock() >= deadline:
                break
        return latencies

    try:
        turns(settings.warmup_requests, settings.warmup_seconds)
        for r in range(settings.rounds):
            for label, latencies in turns(settings.requests, settings.seconds).items():
                timings[label].round_latencies.append(latencies)
                timings[label].throughputs.append(len(latencies) / sum(latencies))
            progress(
                f"round {r + 1}/{settings.rounds}: "
                + ", ".join(
                    f"{t.endpoint.label} {t.throughputs[-1]:.0f}/s" for t in timings.values()
                )
            )
    finally:
        for client in clients.values():
            client.close()
    return Comparison(timings, time.perf_counter() - started)


def preferences_cookie(server: Server, page: str = "/about") -> str:
    """A valid preferences cookie from `server`, made the way a browser without JavaScript
    makes it: GET a page (session cookie and the banner's CSRF token), then POST the banner
    form, "Accept all", with the page's Origin."""
    client = Client(server.url + page)
    try:
        status, headers, body = client.fetch("GET")
        session = _cookies(headers).get(SESSION_COOKIE)
        found = _CSRF_INPUT.search(body.decode())
        if status != 200 or session is None or found is None:
            raise RuntimeError(f"GET {page}: no session cookie or CSRF token (status {status})")
        form = {
            CSRF_FIELD: found.group(1) or found.group(2),
            "action": "accept_all",
            "came_from": page,
            "origin": "banner",
        }
        status, headers, body = client.fetch(
            "POST",
            "/cookies/consent",
            body=urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": f"{SESSION_COOKIE}={session}",
                "Origin": server.url,
                "Sec-Fetch-Site": "same-origin",
            },
        )
    finally:
        client.close()
    preferences = _cookies(headers).get(PREFERENCES_COOKIE)
    if status != 303 or not preferences:
        raise RuntimeError(f"POST /cookies/consent answered {status}: {body[:300]!r}")
    return preferences


def _cookies(headers: Message) -> dict[str, str]:
    jar: SimpleCookie = SimpleCookie()
    for header in headers.get_all("Set-Cookie") or []:
        jar.load(header)
    return {name: morsel.value for name, morsel in jar.items()}


def _get(endpoint: Endpoint) -> bytes:
    client = Client(endpoint.url)
    try:
        return client.send(endpoint)
    finally:
        client.close()
