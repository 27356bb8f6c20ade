"""Benchmark `drift`: what drift detection (`ckanext.cookieconsent.detect_undeclared`)
costs a page.

Three CKAN servers on one database, each with `ckan.plugins = cookieconsent` and the
example catalogue: detection on (the default), detection off, and a second server with it
off (an A/A control: what two identical servers differ by here, not judged). Each is asked
for `/about` with a valid preferences cookie (no banner) and, next to it, a cookie the
catalogue does not declare (`cms_session`, as a CMS on the same domain would set): the
case that detection looks at on every request. Its write happens once an hour per process
and name: during the timing, only the lookups are left, as in production.

Judged: the median latency ratio, detection on / off.
"""

from __future__ import annotations

from collections.abc import Callable

from bench_pages import BANNER_MARK, CATALOGUE, SCRIPT_MARK
from ckan_server import Workspace
from measure import Endpoint, Settings, compare, send_once
from report import Check, Result, Table, Target
from visitor import PREFERENCES_COOKIE, preferences_cookie

KEY = "drift"
PAGE = "/about"
TARGET = Target("<=", 1.02)
UNDECLARED = "cms_session"


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    options = {"ckanext.cookieconsent.catalogue": CATALOGUE}
    off_options = {**options, "ckanext.cookieconsent.detect_undeclared": "false"}
    on = workspace.server(plugins=["cookieconsent"], options=options)
    off = workspace.server(plugins=["cookieconsent"], options=off_options)
    control = workspace.server(plugins=["cookieconsent"], options=off_options, twin=1)
    progress("servers up: detection on, detection off (twice)")
    cookie = f"{PREFERENCES_COOKIE}={preferences_cookie(on.url)}; {UNDECLARED}=1"
    headers = {"Cookie": cookie}
    endpoints = {
        "on": Endpoint(f"{PAGE} detection on", on.url + PAGE, headers=headers),
        "off": Endpoint(f"{PAGE} detection off", off.url + PAGE, headers=headers),
        "control": Endpoint(f"{PAGE} control", control.url + PAGE, headers=headers),
    }
    bodies = {case: send_once(e) for case, e in endpoints.items()}
    checks = [
        Check(
            f"`{PAGE}` with a choice made, on each server: no banner, the script settings",
            all(BANNER_MARK not in b and SCRIPT_MARK in b for b in bodies.values()),
        )
    ]
    progress(f"timing {PAGE}")
    comparison = compare(list(endpoints.values()), settings, progress)

    rows = [
        [
            f"`{label}`",
            f"{t.median_latency * 1e3:.2f} ms",
            f"{t.median_throughput:.1f} req/s",
            str(t.requests),
        ]
        for label, t in comparison.timings.items()
    ]
    baseline = endpoints["off"].label
    ratio_rows = []
    for case in ("on", "control"):
        candidate = endpoints[case].label
        latency = comparison.ratios(candidate, baseline, "latency")
        ratio = comparison.ratio(candidate, baseline, "latency")
        ratio_rows.append(
            [
                "detection on / off" if case == "on" else "control: off, another server / off",
                f"{ratio:.3f}",
                f"{min(latency):.3f} to {max(latency):.3f}",
                ("yes" if TARGET.met(ratio) else "no") if case == "on" else "(not judged)",
            ]
        )
    judged = comparison.ratio(endpoints["on"].label, baseline, "latency")
    return Result(
        key=KEY,
        title="Drift detection: a page with it on against off",
        compared=(
            f"Latency of `GET {PAGE}` on three CKAN servers with `ckan.plugins = "
            f"cookieconsent` (catalogue `{CATALOGUE}`) on one database: "
            "`ckanext.cookieconsent.detect_undeclared` true, false, and false on a second "
            "server (the control). Every request carries a valid "
            f"`{PREFERENCES_COOKIE}` cookie and an undeclared `{UNDECLARED}` cookie, side by "
            "side in the same rounds, interleaved request by request."
        ),
        columns=["", "median latency", "median throughput", "requests timed"],
        rows=rows,
        ratio_name="latency, detection on / off",
        ratio=judged,
        target=TARGET,
        notes=[
            f"{settings.rounds} rounds, each of up to {settings.requests} requests per "
            f"endpoint and {settings.seconds:g} s per endpoint; measured in "
            f"{comparison.seconds:.0f} s. The undeclared name is written to the database "
            "once, at the first request (then once an hour per process): the timed requests "
            "pay the lookups only.",
        ],
        tables=[
            Table(
                "Ratios",
                ["", "latency ratio", "per-round range", f"latency {TARGET}"],
                ratio_rows,
            )
        ],
        checks=checks,
    )
