"""CKAN servers for the benchmarks: one embedded PostgreSQL, any number of CKAN servers on it.

    with Workspace() as ws:
        on = ws.server(plugins=["cookieconsent"])
        off = ws.server(plugins=[])  # same database, extension disabled

Entering the workspace creates CKAN's tables and the extension's (`ckan db init`, `ckan db
upgrade -p cookieconsent`). Each server gets its own ini file (dev/ckan_site.py: `ckan
generate config` and `ckan config-tool`) and port, and is served by waitress
(`waitress-serve`): one process, one application thread unless told more, keep-alive
connections, so that a request costs CKAN's work and not a TCP handshake. Everything lives
in one temporary directory; leaving the `with` block, normally, on an error or on Ctrl-C,
stops the servers, then PostgreSQL, and deletes the directory.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))

# pyright: reportMissingImports=false
from ckan_site import BIN, HOST, ckan, free_port, logging_at, start, stop, write_ini  # noqa: E402
from embedded_pg import EmbeddedPostgres  # noqa: E402

DATABASE = "ckan_bench"


@dataclass(frozen=True)
class Server:
    """A running CKAN server."""

    name: str
    port: int
    plugins: tuple[str, ...]

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"


class Workspace:
    """A temporary directory holding one PostgreSQL and the CKAN servers started on it."""

    def __init__(self) -> None:
        self.directory = Path()
        self.database_url = ""  # the servers' database (a Unix socket), e.g. to count rows
        self._stack = ExitStack()
        self._servers: dict[tuple[object, ...], Server] = {}

    def __enter__(self) -> Workspace:
        self.directory = Path(tempfile.mkdtemp(prefix="cookieconsent-bench-"))
        # Registered first, so run last: the directory goes once everything has stopped.
        self._stack.callback(shutil.rmtree, self.directory, ignore_errors=True)
        try:
            postgres = EmbeddedPostgres(self.directory / "pgdata", delete_on_stop=True)
            self._stack.callback(postgres.stop)
            self.database_url = postgres.database_url(DATABASE)
            ini = self._ini("setup", free_port(), ["cookieconsent"], {})
            ckan(ini, "db", "init")
            ckan(ini, "db", "upgrade", "-p", "cookieconsent")
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

    def server(
        self,
        *,
        plugins: Sequence[str] = ("cookieconsent",),
        options: Mapping[str, str] = {},
        threads: int = 1,
    ) -> Server:
        """A CKAN server with these plugins and ini options, started at the first call.

        `threads`: waitress's application threads (1, the default, serves one request at a
        time, as `ckan run` does by default; more let concurrent clients run concurrently in
        CKAN). `options` may replace a base setting, e.g. `sqlalchemy.url`.
        """
        key = (tuple(plugins), tuple(sorted(options.items())), threads)
        if key not in self._servers:
            name, port = f"ckan{len(self._servers)}", free_port()
            ini = self._ini(name, port, plugins, options)
            command = [
                str(BIN / "waitress-serve"), f"--listen={HOST}:{port}", f"--threads={threads}",
                "--ident=ckan", "--call", "ckan_site:wsgi_app",
            ]  # fmt: skip
            process = start(
                command,
                f"http://{HOST}:{port}/api/3/action/status_show",
                log=self.directory / f"{name}.log",
                env={"CKAN_INI": str(ini), "PYTHONPATH": str(ROOT / "dev")},
            )
            self._stack.callback(stop, process)
            self._servers[key] = Server(name, port, tuple(plugins))
        return self._servers[key]

    def _ini(
        self, name: str, port: int, plugins: Sequence[str], options: Mapping[str, str]
    ) -> Path:
        # Logging at WARNING: per-request log lines would time the console, not CKAN. One
        # secret for all, so that a cookie made by one server is valid on its twin.
        settings = {
            "ckan.site_url": f"http://{HOST}:{port}",
            "ckan.site_title": "CKAN cookie consent benchmark",
            "ckan.site_id": "cookieconsent_bench",
            "sqlalchemy.url": self.database_url,
            "solr_url": f"http://{HOST}:8983/solr/ckan-bench-unused",
            "SECRET_KEY": "cookieconsent-bench-secret",
            "ckan.plugins": " ".join(plugins),
            "ckan.locales_offered": "en fr",
            "ckan.storage_path": str(self.directory / "storage" / name),
            **options,
        }
        return write_ini(self.directory / f"{name}.ini", settings, logging_at("WARNING"))
