"""CKAN servers for the benchmarks: one embedded PostgreSQL, any number of CKAN servers on it.

    with Workspace() as ws:
        on = ws.server(plugins=["cookieconsent"])
        off = ws.server(plugins=[])  # same database, extension disabled

A server's configuration can be written before it starts (`ws.configure(...)`), to run a
CLI command on it first, e.g. an extension's migrations:

        ini = ws.configure(plugins=["cookieconsent"])
        ws.ckan(ini, "db", "upgrade", "-p", "cookieconsent")
        on = ws.server(plugins=["cookieconsent"])  # started on that same configuration

Everything lives in one temporary directory. Leaving the `with` block, normally, on an
error or on Ctrl-C, stops the servers, then PostgreSQL, and deletes the directory.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))

from embedded_pg import EmbeddedPostgres  # noqa: E402  # pyright: ignore[reportMissingImports]

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # loopback only
DATABASE = "ckan_bench"
# How the WSGI app is served. "waitress": a production server that keeps connections
# alive, so a request costs CKAN's work and not a TCP handshake. "ckan-run": CKAN's own
# Werkzeug development server (no extra package; closes the connection after each reply).
ServerKind = Literal["waitress", "ckan-run"]
SERVER_KINDS: tuple[ServerKind, ...] = ("waitress", "ckan-run")


@dataclass(frozen=True)
class Server:
    """A running CKAN server; `ini` is its configuration, for `Workspace.ckan`."""

    name: str
    port: int
    ini: Path
    plugins: tuple[str, ...]
    host: str = HOST

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


class Workspace:
    """A temporary directory holding one PostgreSQL and the CKAN servers started on it."""

    def __init__(self, *, kind: ServerKind = "waitress", start_timeout: float = 90) -> None:
        self.kind: ServerKind = kind
        self.start_timeout = start_timeout
        self.directory = Path()
        self._stack = ExitStack()
        self._database_url = ""
        self._configured: dict[tuple[object, ...], tuple[str, int, Path]] = {}
        self._servers: dict[tuple[object, ...], Server] = {}

    def __enter__(self) -> Workspace:
        self.directory = Path(tempfile.mkdtemp(prefix="cookieconsent-bench-"))
        # Registered first, so run last: the directory goes once everything has stopped.
        self._stack.callback(shutil.rmtree, self.directory, ignore_errors=True)
        try:
            postgres = EmbeddedPostgres(self.directory / "pgdata", delete_on_stop=True)
            self._stack.callback(postgres.stop)
            self._database_url = postgres.database_url(DATABASE)
        except BaseException:
            self._stack.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stack.close()

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the servers' database (a Unix socket), e.g. to count rows."""
        return self._database_url

    def configure(
        self, *, plugins: Sequence[str] = ("cookieconsent",), options: Mapping[str, str] = {}
    ) -> Path:
        """The ini file of the server with these plugins and options, written but not started.

        The first configuration also creates CKAN's tables (`ckan db init`); the others
        share them. `server()` with the same arguments starts a server on this file.
        """
        key = (tuple(plugins), tuple(sorted(options.items())))
        if key not in self._configured:
            name = f"ckan{len(self._configured)}"
            port = _free_port()
            ini = self.directory / f"{name}.ini"
            ini.write_text(self._ini(name, port, plugins, options))
            if not self._configured:
                self.ckan(ini, "db", "init")
            self._configured[key] = (name, port, ini)
        return self._configured[key][2]

    def server(
        self,
        *,
        plugins: Sequence[str] = ("cookieconsent",),
        options: Mapping[str, str] = {},
        threads: int = 1,
    ) -> Server:
        """A CKAN server with these plugins and extra ini options, started at the first call.

        `threads`: waitress's application threads (1, the default, serves one request at a
        time; more let concurrent clients run concurrently in CKAN). Servers differing only
        in `threads` share one configuration; the ckan-run server is always threaded.
        """
        key = (tuple(plugins), tuple(sorted(options.items())))
        if (*key, threads) in self._servers:
            return self._servers[(*key, threads)]
        ini = self.configure(plugins=plugins, options=options)
        name, port, _ = self._configured[key]
        if any(s.ini == ini for s in self._servers.values()):
            # The same configuration served a second time (other threads): a copy of it
            # with its own port and site URL.
            name, port = f"{name}t{threads}", _free_port()
            ini = self.directory / f"{name}.ini"
            ini.write_text(self._ini(name, port, plugins, options))
        log_path = self.directory / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                _serve_command(self.kind, ini, port, threads),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._stack.callback(_stop, process)
        server = Server(name, port, ini, tuple(plugins))
        _wait_until_up(
            server.url + "/api/3/action/status_show", process, log_path, self.start_timeout
        )
        self._servers[(*key, threads)] = server
        return server

    def ckan(self, ini: Path, *args: str) -> str:
        """Run a `ckan` command on a server's configuration; its output, or an error with it."""
        result = subprocess.run(
            [str(BIN / "ckan"), "-c", str(ini), *args],
            text=True,
            capture_output=True,
            timeout=300,
        )
        if result.returncode:
            raise RuntimeError(f"ckan {' '.join(args)} failed:\n{result.stdout}{result.stderr}")
        return result.stdout

    def _ini(self, name: str, port: int, plugins: Sequence[str], options: Mapping[str, str]) -> str:
        # The shape of dev/demo.py's ini. Logging at WARNING: per-request log lines would
        # time the console, not CKAN. `options` may also replace one of these (e.g.
        # `sqlalchemy.url`, to pass PostgreSQL settings to one server's connections).
        settings = {
            "use": "egg:ckan",
            "debug": "false",
            "ckan.site_url": f"http://{HOST}:{port}",
            "ckan.site_title": "CKAN cookie consent benchmark",
            "ckan.site_id": "cookieconsent_bench",
            "sqlalchemy.url": self._database_url,
            "solr_url": f"http://{HOST}:8983/solr/ckan-bench-unused",
            "SECRET_KEY": "cookieconsent-bench-secret",
            "WTF_CSRF_SECRET_KEY": "cookieconsent-bench-secret",
            "ckan.plugins": " ".join(plugins),
            "ckan.locale_default": "en",
            "ckan.locales_offered": "en fr",
            "ckan.storage_path": str(self.directory / "storage" / name),
            **options,
        }
        app = "".join(f"{key} = {value}\n" for key, value in settings.items())
        return f"""# Written by benchmarks/ckan_server.py for one benchmark run.
[app:main]
{app}
[loggers]
keys = root, ckan, ckanext

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = WARNING
handlers = console

[logger_ckan]
level = WARNING
handlers = console
qualname = ckan
propagate = 0

[logger_ckanext]
level = WARNING
handlers = console
qualname = ckanext
propagate = 0

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(asctime)s %(levelname)-5.5s [%(name)s] %(message)s
"""


def _serve_command(kind: ServerKind, ini: Path, port: int, threads: int) -> list[str]:
    if kind == "waitress":
        serve = Path(__file__).with_name("wsgi_serve.py")
        return [sys.executable, str(serve), str(ini), HOST, str(port), str(threads)]
    # --threaded: Werkzeug serves each request in a thread, as it must to speak HTTP/1.1;
    # --disable-debugger: the interactive debugger wraps every request.
    return [
        str(BIN / "ckan"), "-c", str(ini), "run", "--host", HOST, "--port", str(port),
        "--disable-reloader", "--disable-debugger", "--threaded",
    ]  # fmt: skip


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _wait_until_up(
    url: str, process: subprocess.Popen[bytes], log_path: Path, timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"CKAN stopped while starting (exit code {process.returncode}):\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    raise RuntimeError(
        f"CKAN did not answer {url} within {timeout:.0f} s:\n"
        + log_path.read_text(errors="replace")[-4000:]
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
