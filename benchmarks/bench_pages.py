"""Benchmark `pages`: what the extension costs a page, on /about and /user/login.

Two CKAN servers on one database: `ckan.plugins = cookieconsent` with the example
catalogue (`matomo-youtube.yaml`: a category that needs consent, so the banner shows), and
`ckan.plugins =` (empty: the extension disabled). Production settings: `debug = false`,
webassets bundled and minified (`ckan.webassets.debug` false), logging at WARNING.

Three ways to ask for each page, side by side, interleaved request by request
(`measure.compare`):

- `banner`: the enabled server, no cookie: a first visit, the banner is rendered (with its
  form, CSRF token and category switches);
- `chosen`: the enabled server, with a valid preferences cookie (made by a real
  `POST /cookies/consent`, "Accept all"): a visitor who has chosen, no banner;
- `disabled`: the disabled server, no cookie.

Judged: the median latency ratio, enabled / disabled, of each page and scenario; the
highest of the four must stay within the target.
"""

from __future__ import annotations

from collections.abc import Callable

from ckan_server import Server, Workspace
from measure import Comparison, Endpoint, Settings, compare, send_once
from report import Check, Result, Table, Target
from visitor import PREFERENCES_COOKIE, preferences_cookie

KEY = "pages"
CATALOGUE = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
PAGES = ("/about", "/user/login")
TARGET = Target("<=", 1.02)
SCENARIOS = ("banner", "chosen")  # the enabled server's two cases, each against "disabled"
BANNER_MARK = b'id="cookieconsent-banner"'
SCRIPT_MARK = b'id="cookieconsent-settings"'  # the extension's script settings, every page


def enabled_server(workspace: Workspace, threads: int = 1) -> Server:
    """The extension's server for `pages`, `weight` and `paint`: one configuration, so one
    server for all three (`paint` asks for more threads: a server of its own)."""
    options = {"ckanext.cookieconsent.catalogue": CATALOGUE}
    return workspace.server(plugins=["cookieconsent"], options=options, threads=threads)


def disabled_server(workspace: Workspace, threads: int = 1, twin: int = 0) -> Server:
    return workspace.server(plugins=[], threads=threads, twin=twin)


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    on = enabled_server(workspace)
    off = disabled_server(workspace)
    # A second disabled server, timed like the others: its ratio to the first shows what
    # two identical servers differ by here (the harness's own error), not judged.
    control = disabled_server(workspace, twin=1)
    progress("servers up: extension enabled, extension disabled (twice)")
    preferences = preferences_cookie(on.url)
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
            "control": Endpoint(f"{page} control", control.url + page),
        }
        bodies = {case: send_once(e) for case, e in endpoints.items()}
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
        comparisons[page] = compare(list(endpoints.values()), settings, progress)

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
        for case in (*SCENARIOS, "control"):
            candidate = f"{page} {case}"
            latency = comparison.ratios(candidate, baseline, "latency")
            throughput = comparison.ratios(candidate, baseline, "throughput")
            latency_ratio = comparison.ratio(candidate, baseline, "latency")
            if case != "control":
                latency_ratios.append(latency_ratio)
            ratio_rows.append(
                [
                    f"`{page}`",
                    case if case != "control" else "control: disabled, another server",
                    f"{latency_ratio:.3f}",
                    f"{min(latency):.3f} to {max(latency):.3f}",
                    f"{comparison.ratio(candidate, baseline, 'throughput'):.3f}",
                    f"{min(throughput):.3f} to {max(throughput):.3f}",
                    "(not judged)"
                    if case == "control"
                    else ("yes" if TARGET.met(latency_ratio) else "no"),
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
            f"({TARGET}) applies to each latency ratio. `control` is a second server "
            "with the extension disabled, timed in the same rounds: its ratio to the first "
            "disabled server is what two identical servers differ by on this machine.",
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
