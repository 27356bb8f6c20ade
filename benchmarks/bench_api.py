"""Benchmark `api`: the extension's cookie list against CKAN's own `status_show`.

Both are read-only actions that touch no database table and go through the same API view
(routing, identity, auth, JSON), so the gap between them is what
`cookieconsent_cookie_list` itself costs: access check, parameter validation, copying
the translated catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from ckan_server import Workspace
from measure import Endpoint, Settings, compare, send_once
from report import Result, Target, timing_result

KEY = "api"
TARGET = Target(">=", 0.9)


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    server = workspace.server(plugins=["cookieconsent"])
    action = server.url + "/api/3/action/"
    candidate = Endpoint("cookie_list", action + "cookieconsent_cookie_list")
    baseline = Endpoint("status_show", action + "status_show")
    for endpoint in (candidate, baseline):
        _check(endpoint)
    comparison = compare([candidate, baseline], settings, progress)
    return timing_result(
        KEY,
        "API: cookieconsent_cookie_list against status_show",
        "Throughput and latency of `GET /api/3/action/cookieconsent_cookie_list` (no "
        "parameters: the whole built-in catalogue, in the request's language) against "
        "CKAN's `GET /api/3/action/status_show`, on the same CKAN server "
        "(`ckan.plugins = cookieconsent`).",
        comparison,
        candidate.label,
        baseline.label,
        TARGET,
    )


def _check(endpoint: Endpoint) -> None:
    """Time real answers, not errors: the action succeeds and returns something."""
    answer = json.loads(send_once(endpoint))
    if answer.get("success") is not True or not answer.get("result"):
        raise RuntimeError(f"{endpoint.label}: unexpected answer {answer!r:.300}")
