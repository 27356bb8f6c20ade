"""Browser fixtures, a pytest plugin registered by conftest.py: a live CKAN over HTTP,
Debian's chromium through Playwright, and Debian's nginx as a TLS-terminating proxy.

Used by the tests marked `browser`. Playwright cannot download its own browser here:
Debian's chromium is driven instead, and only loopback addresses are used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def live_server(make_app: Any, ckan_config: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test's CKAN app served over real HTTP on 127.0.0.1; yields the base URL.

    The app comes from CKAN's `make_app` fixture, so the test's `ckan_config` marks and
    `with_plugins` apply. `ckan.site_url` is set to the server's URL: CKAN's own scripts
    use it, and the consent endpoint accepts it as an Origin (as it does the Host the
    browser sent). `tls_proxy` replaces it with the proxy's public https URL.
    """
    from werkzeug.serving import make_server

    # The whole WSGI stack, as `ckan run` serves it (the Flask app plus any IMiddleware).
    server = make_server("127.0.0.1", 0, make_app().app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="live-ckan", daemon=True
    )
    thread.start()
    base_url = f"http://127.0.0.1:{server.server_port}"
    # CKAN's own script loads its translations from <site_url>/api/i18n/<lang>: with
    # test.ini's site_url every page would send a request off loopback. CKAN reads the
    # option at each request, so setting it once the port is known is enough.
    monkeypatch.setitem(ckan_config, "ckan.site_url", base_url)
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session, closed (with Playwright's driver) at the end."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: install Debian's chromium (make browser)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """Factory of pages, each in a fresh context (no cookies, no storage). Keyword
    arguments go to `browser.new_context`, e.g. `new_page(java_script_enabled=False)` or
    `new_page(viewport={"width": 320, "height": 640}, locale="fr-FR")`."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> Page:
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    """A page with JavaScript, in a fresh context."""
    return new_page()


# --- Behind a TLS-terminating reverse proxy: Debian's nginx, configured as ckan-docker ----
# ckan-docker's nginx/setup/default.conf passes plain http to CKAN with
# `proxy_set_header Host $host;` (the host name without the port) and no X-Forwarded-Proto:
# CKAN sees http://localhost/ while the browser is on https://localhost:<port>.

NGINX = Path("/usr/sbin/nginx")

# What every nginx the tests start has: in the foreground, everything under `prefix`.
NGINX_HEAD = """\
{user}
daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;
events {{ worker_connections {connections}; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
"""

NGINX_CONF = (
    NGINX_HEAD
    + """\
    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {prefix}/proxy.crt;
        ssl_certificate_key {prefix}/proxy.key;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {{
            # The two lines of ckan-docker's location block that matter here.
            proxy_pass {upstream}/;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header Host $host;
        }}
    }}
}}
"""
)


@dataclass(frozen=True)
class TlsProxy:
    """A running nginx in front of `live_server`: `url` is the portal's public origin
    (also `ckan.site_url`), `cafile` the certificate to trust, `upstream` CKAN's own URL."""

    url: str
    cafile: Path
    upstream: str


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until nginx accepts connections on `port`; fails at once if it exits."""
    for _ in range(200):  # 10 s at most
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            pass
        try:
            process.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            continue
        pytest.fail(f"nginx exited with {process.returncode}:\n{log.read_text()}")
    pytest.fail(f"nginx does not listen on 127.0.0.1:{port}:\n{log.read_text()}")


@pytest.fixture
def tls_proxy(
    live_server: str, ckan_config: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[TlsProxy]:
    """Debian's nginx terminating TLS (self-signed certificate for localhost) in front of
    the live CKAN, as ckan-docker configures it; `ckan.site_url` is the public https URL,
    as a portal behind it sets it (ckan-docker: CKAN_SITE_URL=https://localhost:8443)."""
    if not NGINX.exists() or shutil.which("openssl") is None:
        reason = f"{NGINX} or openssl is missing: install Debian's nginx-light (make browser)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(tmp_path / "proxy.key"), "-out", str(tmp_path / "proxy.crt")],
        check=True, capture_output=True,
    )  # fmt: skip
    port = _free_port()
    # As root, nginx's workers would run as nobody, who cannot enter tmp_path.
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        NGINX_CONF.format(
            user=user, prefix=tmp_path, connections=64, port=port, upstream=live_server
        )
    )
    log = tmp_path / "error.log"
    process = subprocess.Popen(
        [str(NGINX), "-c", str(conf), "-p", str(tmp_path), "-e", str(log)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, process, log)
        public = f"https://localhost:{port}"
        monkeypatch.setitem(ckan_config, "ckan.site_url", public)
        yield TlsProxy(url=public, cafile=tmp_path / "proxy.crt", upstream=live_server)
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
