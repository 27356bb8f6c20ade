"""Several CKAN servers, one consent: a pytest plugin registered by conftest.py.

`cluster` (module scope): two CKAN servers, A and B, each its own OS process
(`waitress-serve`, as the benchmarks serve CKAN: the catalogue in force is per process),
on the test run's PostgreSQL, with the same ini but for the catalogue file (so the same
SECRET_KEY), behind one Debian nginx on loopback whose upstreams hold both servers,
round robin. Every answer carries `X-Upstream` (the server's address), so a test can say
which server answered.

nginx keeps two round-robin upstreams over the same two servers: one for the documents
a browser navigates to and for POSTs, one for everything else (scripts, styles, CKAN's
translations). Then consecutive pages of one visitor alternate between A and B whatever
each page loads; with a single upstream the order would depend on each page's assets.

Everything stops at the end of the module, on a failure too: the servers, then nginx.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# pyright: reportMissingImports=false
from browser_fixtures import NGINX, NGINX_HEAD, _wait_for_port
from ckan_site import BIN, HOST, ckan, free_port, logging_at, start, stop, write_ini

SERVERS = ("A", "B")
SECRET_KEY = "cookieconsent-cluster-secret-key-of-32-bytes-or-more"

CLUSTER_CONF = (
    NGINX_HEAD
    + """\
    upstream pages {{ {servers} }}
    upstream assets {{ {servers} }}
    # Navigations (Sec-Fetch-Dest: document) and POSTs take turns in `pages`.
    map "$request_method $http_sec_fetch_dest" $pool {{
        default assets;
        "~^POST " pages;
        "~ document$" pages;
    }}
    server {{
        listen {host}:{port};
        location / {{
            proxy_pass http://$pool;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            # A server that is down answers 502: no silent retry on the other one.
            proxy_next_upstream off;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""
)


@dataclass
class Cluster:
    """Two CKAN servers behind nginx. `url` is the portal's public origin (nginx, also
    `ckan.site_url`); `ports` the servers' own ports; `catalogues` the catalogue file each
    server runs with (`use_catalogues` restarts a server on another one)."""

    url: str
    ports: dict[str, int]
    directory: Path
    catalogues: dict[str, str] = field(default_factory=dict)
    _processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _token: str = ""

    def server_of(self, headers: Mapping[str, str]) -> str:
        """Which server ("A" or "B") answered a response with these headers."""
        address = headers.get("x-upstream") or headers.get("X-Upstream") or ""
        by_address = {f"{HOST}:{port}": name for name, port in self.ports.items()}
        assert address in by_address, f"X-Upstream {address!r} names neither server"
        return by_address[address]

    def use_catalogues(self, **catalogues: str) -> None:
        """Run each named server ("A", "B") with that catalogue file, restarting only the
        servers whose catalogue changes."""
        for name, catalogue in catalogues.items():
            if self.catalogues.get(name) != catalogue:
                self._start(name, catalogue)

    def _start(self, name: str, catalogue: str) -> None:
        if name in self._processes:
            stop(self._processes.pop(name))
        self.catalogues.pop(name, None)
        port = self.ports[name]
        ini = self._ini(name, catalogue)
        if not (self.directory / "webassets").exists():
            # A page from A names bundles B must serve too: built before any server starts
            # (each server would otherwise build them at its first page, and answer 404
            # for a bundle only the other has built).
            ckan(ini, "asset", "build")
        command = [
            str(BIN / "waitress-serve"), f"--listen={HOST}:{port}", "--threads=2",
            "--ident=ckan", "--call", "ckan_site:wsgi_app",
        ]  # fmt: skip
        self._processes[name] = start(
            command,
            f"http://{HOST}:{port}/api/3/action/status_show",
            log=self.directory / f"ckan-{name}.log",
            env={"CKAN_INI": str(ini), "PYTHONPATH": str(Path(__file__).parent.parent / "dev")},
        )
        self.catalogues[name] = catalogue

    def _ini(self, name: str, catalogue: str) -> Path:
        # The same options for every server but the catalogue: one SECRET_KEY (the
        # preferences cookie's signature, CKAN's session and its CSRF token), one database.
        options = {
            "ckan.site_url": self.url,
            "ckan.site_id": "cookieconsent_cluster",
            "sqlalchemy.url": os.environ["CKAN_SQLALCHEMY_URL"],
            "solr_url": f"http://{HOST}:8983/solr/ckan-cluster-unused",
            "SECRET_KEY": SECRET_KEY,
            "ckan.plugins": "cookieconsent",
            "ckan.locales_offered": "en fr",
            "ckan.storage_path": str(self.directory / "storage" / name),
            "ckan.webassets.path": str(self.directory / "webassets"),
            "ckanext.cookieconsent.catalogue": catalogue,
        }
        return write_ini(self.directory / f"ckan-{name}.ini", options, logging_at("WARNING"))

    def stop(self) -> None:
        for name in list(self._processes):
            stop(self._processes.pop(name))
        self.catalogues.clear()

    def steer_next_page_to(self, name: str) -> None:
        """Make the next page or POST of any visitor go to server `name`: pages alternate,
        so another visitor's page (made here, without cookies) moves the turn on if need be."""
        if self._other_visitor_page() == name:
            assert self._other_visitor_page() != name, "nginx does not alternate the servers"

    def _other_visitor_page(self) -> str:
        request = urllib.request.Request(
            f"{self.url}/api/3/action/status_show", headers={"Sec-Fetch-Dest": "document"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return self.server_of(dict(response.headers))

    def api(self, name: str, action: str, **params: str) -> Any:
        """The result of `action` on server `name` itself (not through nginx), as a
        sysadmin (created at the first call)."""
        query = "&".join(f"{key}={value}" for key, value in params.items())
        request = urllib.request.Request(
            f"http://{HOST}:{self.ports[name]}/api/3/action/{action}?{query}",
            headers={"Authorization": self._sysadmin_token()},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["result"]

    def _sysadmin_token(self) -> str:
        if not self._token:
            ini = self.directory / "ckan-A.ini"
            user = "cluster_admin"
            ckan(ini, "user", "add", user, "email=cluster_admin@example.org",
                 "password=cluster-admin-password")  # fmt: skip
            ckan(ini, "sysadmin", "add", user)
            output = ckan(ini, "user", "token", "add", user, "cluster-test")
            self._token = output.strip().splitlines()[-1].strip()
        return self._token


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Servers A and B (not started yet: a test says which catalogue each runs with
    `cluster.use_catalogues(A=..., B=...)`) behind a running nginx."""
    if not NGINX.exists():
        reason = f"{NGINX} is missing: install Debian's nginx-light (make browser)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    directory = tmp_path_factory.mktemp("cluster")
    port = free_port()
    ports = {name: free_port() for name in SERVERS}
    servers = " ".join(f"server {HOST}:{p};" for p in ports.values())
    # As root, nginx's workers would run as nobody, who cannot enter the directory.
    user = "user root root;" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(
        CLUSTER_CONF.format(
            user=user, prefix=directory, connections=256, host=HOST, port=port, servers=servers
        )
    )
    log = directory / "error.log"
    with ExitStack() as stack:
        nginx = subprocess.Popen(
            [str(NGINX), "-c", str(conf), "-p", str(directory), "-e", str(log)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        stack.callback(stop, nginx)  # SIGTERM: nginx's fast shutdown
        _wait_for_port(port, nginx, log)
        running = Cluster(url=f"http://{HOST}:{port}", ports=ports, directory=directory)
        stack.callback(running.stop)  # registered last, so run first
        yield running
    for built in ("storage", "webassets"):
        shutil.rmtree(directory / built, ignore_errors=True)
