"""CKAN servers for the benchmarks: one embedded PostgreSQL, any number of CKAN servers on it.

    with Workspace() as ws:
        on = ws.server(plugins=["cookieconsent"])
        off = ws.server(plugins=[])  # same database, extension disabled

Entering the workspace creates CKAN's tables and the extension's (`ckan db init`, `ckan db
upgrade -p cookieconsent`). Each server gets its own ini file (dev/ckan_site.py: `ckan
generate config` and `ckan config-tool`) and port, and is served by waitress
(`waitress-serve`): one process, one application thread unless told more, keep-alive
connections, so that a request costs CKAN's work and not a TCP handshake. Or, with
`processes=N`, by uWSGI as ckan-docker runs CKAN (its `DEFAULT_UWSGI_OPTS`: a master, N
worker processes loading the application each (`--lazy-apps`), one thread each, an HTTP
router in front; the `wsgi.py` of CKAN's repository). Everything lives in one temporary
directory; leaving the `with` block, normally, on an error or on Ctrl-C, stops the servers
(a uWSGI server's whole process group: master, workers, router), then PostgreSQL, and
deletes the directory.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "dev"))

# pyright: reportMissingImports=false
from ckan_site import BIN, HOST, ckan, free_port, logging_at, start, stop, write_ini  # noqa: E402
from embedded_pg import EmbeddedPostgres  # noqa: E402

DATABASE = "ckan_bench"
# A copy of DATABASE made right after its tables are created, before any server uses it:
# the template of `Workspace.database()`.
TEMPLATE = "ckan_bench_template"


@dataclass(frozen=True)
class Server:
    """A running CKAN server."""

    name: str
    port: int
    plugins: tuple[str, ...]
    pid: int = 0  # the server's main process (waitress's, uWSGI's master): /proc/PID/status
    ini: Path = Path()  # its ini file, e.g. for `ckan -c INI ...` on its database

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
            self._create_database(TEMPLATE, DATABASE)
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

    def database(self, name: str) -> str:
        """A new database on the workspace's PostgreSQL with CKAN's and the extension's
        tables and no rows of the benchmarks' (a copy of the workspace's database as it was
        created); its URL, for a server's `sqlalchemy.url`."""
        self._create_database(name, TEMPLATE)
        return urlsplit(self.database_url)._replace(path=f"/{name}").geturl()

    def _create_database(self, name: str, template: str) -> None:
        engine = sa.create_engine(
            self.database_url, isolation_level="AUTOCOMMIT", poolclass=NullPool
        )
        try:
            with engine.connect() as connection:
                connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        finally:
            engine.dispose()

    def server(
        self,
        *,
        plugins: Sequence[str] = ("cookieconsent",),
        options: Mapping[str, str] = {},
        threads: int = 1,
        processes: int | None = None,
        twin: int = 0,
    ) -> Server:
        """A CKAN server with these plugins and ini options, started at the first call.

        `threads`: application threads (1, the default, serves one request at a time per
        process, as `ckan run` does by default; more let concurrent clients run concurrently in
        CKAN). `processes`: None, the default, serves CKAN by waitress, one process; N, by
        uWSGI with N worker processes, as ckan-docker does (`uwsgi_command`). `options` may
        replace a base setting, e.g. `sqlalchemy.url`. `twin`: another number asks for
        another server of the same configuration (an A/A control); the same arguments
        otherwise give the same server.
        """
        key = (tuple(plugins), tuple(sorted(options.items())), threads, processes, twin)
        if key not in self._servers:
            name, port = f"ckan{len(self._servers)}", free_port()
            ini = self._ini(name, port, plugins, options)
            env = {"CKAN_INI": str(ini), "PYTHONPATH": str(ROOT / "dev")}
            url = f"http://{HOST}:{port}/api/3/action/status_show"
            log = self.directory / f"{name}.log"
            if processes is None:
                command = [
                    str(BIN / "waitress-serve"), f"--listen={HOST}:{port}",
                    f"--threads={threads}", "--ident=ckan", "--call", "ckan_site:wsgi_app",
                ]  # fmt: skip
                process = start(command, url, log=log, env=env)
                self._stack.callback(stop, process)
            else:
                # What `ckan run` and dev/ckan_site.wsgi_app do before serving, done once
                # here: N lazy workers would build the JavaScript translations at the same
                # time, and race in creating their directory.
                ckan(ini, "translation", "js")
                command = uwsgi_command(self.directory, name, port, processes, threads)
                # setsid: uWSGI in a process group of its own, so that `stop_group` ends its
                # master, workers and router together, whatever state the master is in.
                process = start(["setsid", *command], url, log=log, env=env)
                self._stack.callback(stop_group, process)
            self._servers[key] = Server(name, port, tuple(plugins), process.pid, ini)
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


# --- uWSGI ----------------------------------------------------------------------------

# CKAN's own wsgi.py (the one ckan-docker-base adds to its images), word for word in what it
# does: the ini in CKAN_INI, its logging, CKANConfigLoader, make_app.
WSGI_FILE = """\
import os
from logging.config import fileConfig as loggingFileConfig

from ckan.cli import CKANConfigLoader
from ckan.config.middleware import make_app

config_path = os.environ["CKAN_INI"]
loggingFileConfig(config_path)
config = CKANConfigLoader(config_path).get_config()
application = make_app(config)
"""


def uwsgi_command(
    directory: Path, name: str, port: int, processes: int, threads: int = 1
) -> list[str]:
    """uWSGI as ckan-docker-base's `start_ckan.sh` runs CKAN (`DEFAULT_UWSGI_OPTS`, CKAN
    2.10 to 2.12: `--socket ... --wsgi-file wsgi.py --http ... --master --enable-threads
    --lazy-apps -p 2 -L -b 32768 --vacuum --harakiri 60`), with `processes` workers, on
    loopback, and what a benchmark needs besides: `--die-on-term` (SIGTERM stops uWSGI;
    without it, uWSGI 2.0 reloads), `--no-orphans` (workers end if the master dies),
    `--need-app` (no serving of errors if CKAN cannot load), and `--http-keepalive`: the
    router keeps a client's connection open, as the nginx in front of ckan-docker's uWSGI
    does (without it, the router closes each connection after one answer without saying
    so, which a keep-alive client such as measure.Client finds out on its next request)."""
    if not (BIN / "uwsgi").exists():
        raise RuntimeError(f"{BIN / 'uwsgi'} is missing: `pip install -e '.[dev]'` (pyuwsgi)")
    wsgi = directory / "wsgi.py"
    if not wsgi.exists():
        wsgi.write_text(WSGI_FILE)
    command = [
        str(BIN / "uwsgi"),
        "--socket", str(directory / f"{name}.sock"),
        "--wsgi-file", str(wsgi),
        "--http", f"{HOST}:{port}",
        "--master", "--enable-threads", "--lazy-apps",
        "--processes", str(processes),
        "--disable-logging", "--buffer-size", "32768", "--vacuum", "--harakiri", "60",
        "--die-on-term", "--no-orphans", "--need-app", "--http-keepalive",
    ]  # fmt: skip
    return command + (["--threads", str(threads)] if threads > 1 else [])


def group_pids(leader: int) -> list[int]:
    """The processes still alive in the process group of `leader` (from /proc)."""
    pids: list[int] = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:  # ended meanwhile
                continue
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after it.
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[2]) == leader:
                pids.append(int(entry.name))
    return pids


def stop_group(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop a server started under `setsid` and every process of its group: SIGTERM to
    the group, SIGKILL to what is left after `timeout` s. Safe to call twice."""
    if os.getpgid(0) == process.pid:  # never this process's own group
        raise RuntimeError(f"process {process.pid} leads this process's group")
    for sign in (signal.SIGTERM, signal.SIGKILL):
        with suppress(ProcessLookupError):  # the group has ended
            os.killpg(process.pid, sign)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process.poll()  # reaps the master once it has exited
            if process.returncode is not None and not group_pids(process.pid):
                return
            time.sleep(0.05)
    process.wait()
