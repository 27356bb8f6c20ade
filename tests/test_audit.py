"""`ckan cookieconsent audit`: real CKAN over HTTP, real chromium, a second loopback site.

The portal serves the demo catalogue and a theme written for each test: a script of
another site (`http://localhost:PORT`, another site than `http://127.0.0.1` for the
browser) loaded through the gate; the leaky theme adds the same site's script without the
gate and an inline script that sets a cookie the catalogue does not declare. The audit
runs as an admin runs it, `ckan -c INI cookieconsent audit URL...`, in its own process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from helpers import DEMO_MARKS, ckan_ini

CKAN = str(Path(sys.executable).parent / "ckan")
pytestmark = DEMO_MARKS
SETTLE = "400"

GATED = """{% ckan_extends %}
{% import "cookieconsent/macros/gate.html" as gate %}
{% block scripts %}
  {{ super() }}
  {{ gate.script("media", src="THIRD/gated.js") }}
  LEAK
{% endblock %}
"""
LEAK = """<script src="THIRD/ungated.js"></script>
  <script>document.cookie = "theme_pref=dark; path=/; max-age=3600";</script>"""


@pytest.fixture
def third_party() -> Iterator[tuple[str, list[str]]]:
    """Another site on loopback: its base URL, and the paths it was asked for."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            body = b"window.__thirdParty = (window.__thirdParty || 0) + 1;"
            self.send_response(200)
            self.send_header("Content-Type", "text/javascript")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_port}", hits
    finally:
        server.shutdown()
        server.server_close()


def _portal(request: Any, tmp_path: Path, third: str, *, leaky: bool, extra: str = "") -> str:
    """The live portal with this test's theme over the demo's; its base URL."""
    templates = tmp_path / "theme" / "templates"
    templates.mkdir(parents=True)
    leak = (LEAK.replace("THIRD", third) if leaky else "") + extra
    (templates / "page.html").write_text(GATED.replace("THIRD", third).replace("LEAK", leak))
    ckan_config = request.getfixturevalue("ckan_config")
    demo = ckan_config["extra_template_paths"]
    request.getfixturevalue("monkeypatch").setitem(
        ckan_config, "extra_template_paths", f"{templates},{demo}"
    )
    return request.getfixturevalue("live_server")


def _audit(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from helpers import DEMO_CATALOGUE

    ini = tmp_path / "audit.ini"
    options = {"ckanext.cookieconsent.catalogue": DEMO_CATALOGUE}
    ini.write_text(
        ckan_ini(
            site_id="cookieconsent_audit", database=os.environ["CKAN_SQLALCHEMY_URL"], **options
        )
    )
    env = {k: v for k, v in os.environ.items() if k != "CKAN_INI"}
    command = [CKAN, "-c", str(ini), "cookieconsent", "audit", "--settle-ms", SETTLE, *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


def test_a_portal_that_gates_its_third_party_script_passes(
    request: Any, tmp_path: Path, third_party: tuple[str, list[str]]
) -> None:
    third, hits = third_party
    portal = _portal(request, tmp_path, third, leaky=False)
    report_file = tmp_path / "report.json"
    result = _audit(tmp_path, f"{portal}/about", f"{portal}/cookies", "-o", str(report_file))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("No violation.")
    report = json.loads(report_file.read_text())
    assert report["verdict"] == "no violation"
    assert report["findings"] == []
    assert report["passes"] == ["no_choice", "reject_all", "accept_all", "gpc"]
    # The gated script loads after Accept all, and only then.
    # The gated script loads after Accept all, and only then (the demo's frame on /about,
    # from http://localhost:<the portal's port>, too).
    assert third in report["third_party_after_consent"]
    assert hits and set(hits) == {"/gated.js"}
    buttons = report["buttons"]
    assert buttons["refuse_all"]["visible"] and buttons["accept_all"]["visible"]


def test_a_leaky_portal_fails_with_each_violation_named(
    request: Any, tmp_path: Path, third_party: tuple[str, list[str]]
) -> None:
    third, _ = third_party
    portal = _portal(request, tmp_path, third, leaky=True)
    result = _audit(tmp_path, f"{portal}/about", f"{portal}/cookies", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "violation"
    found = {(f["pass"], f["kind"], f["subject"]) for f in report["findings"]}
    for pass_ in ("no_choice", "reject_all", "accept_all", "gpc"):
        assert (pass_, "undeclared_cookie", "theme_pref (127.0.0.1)") in found
    assert ("no_choice", "third_party_request", third) in found
    assert ("reject_all", "third_party_request", third) in found
    assert ("gpc", "third_party_request", third) in found
    refused = [f for f in report["findings"] if f["pass"] == "reject_all"]
    assert any(f["detail"].startswith("after Reject all: ") for f in refused)


def test_a_banner_whose_refusal_is_less_prominent_fails(
    request: Any, tmp_path: Path, third_party: tuple[str, list[str]]
) -> None:
    third, _ = third_party
    small = (
        "<style>#cookieconsent-banner button[value=refuse_all]"
        "{font-size:9px!important;padding:0!important}</style>"
    )
    portal = _portal(request, tmp_path, third, leaky=False, extra=small)
    result = _audit(tmp_path, f"{portal}/about", "--json")
    assert result.returncode == 1, result.stdout + result.stderr
    kinds = {f["kind"] for f in json.loads(result.stdout)["findings"]}
    assert "refusal_less_prominent" in kinds


def test_the_audit_says_why_it_cannot_run(tmp_path: Path) -> None:
    result = _audit(tmp_path, "http://127.0.0.1:9/about", "--chromium", "/nonexistent/chromium")
    assert result.returncode == 2
    assert "could not start Chromium at /nonexistent/chromium" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("urls", "message"),
    [
        (["javascript:alert(1)"], "is not an http(s) URL"),
        (["about"], "nor a path starting with /"),
        (["http://127.0.0.1:5000/about", "http://evil.example/"], "on one origin"),
    ],
)
def test_hostile_urls_are_usage_errors(tmp_path: Path, urls: list[str], message: str) -> None:
    result = _audit(tmp_path, *urls)
    assert result.returncode == 2  # click's usage error
    assert message in result.stderr
    assert "Traceback" not in result.stderr
