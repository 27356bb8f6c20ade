"""A CKAN site for development, shared by the demo, the screenshots and the benchmarks.

- `write_ini(path, options)`: the ini file, made by CKAN itself (`ckan generate config`,
  then `ckan config-tool` with the options): CKAN's defaults for everything not given.
- `ckan(ini, ...)`: a CLI command on it.
- `start(command, url)`: a server process, once `url` answers 200; `stop(process)`.
- `wsgi_app()`: the WSGI application of the ini in `CKAN_INI`, for
  `waitress-serve --call ckan_site:wsgi_app` (the benchmarks' server).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
HOST = "127.0.0.1"  # loopback only


def logging_at(level: str) -> dict[str, dict[str, str]]:
    """The `sections` of `write_ini` that set CKAN's and extensions' loggers to `level`."""
    return {"logger_ckan": {"level": level}, "logger_ckanext": {"level": level}}


def write_ini(
    path: Path,
    options: Mapping[str, str],
    sections: Mapping[str, Mapping[str, str]] = {},
) -> Path:
    """(Re)write `path` with CKAN's generated configuration, `options` set in [app:main]
    and `sections` in other sections (created when new, e.g. a logger's)."""
    path.unlink(missing_ok=True)
    _run(BIN / "ckan", "generate", "config", str(path))
    for section, values in {"app:main": options, **sections}.items():
        pairs = [f"{key} = {value}" for key, value in values.items()]
        if pairs:
            _run(BIN / "ckan", "config-tool", str(path), "-s", section, *pairs)
    return path


def ckan(ini: Path, *args: str) -> str:
    """Run `ckan -c INI ARGS...`; its output, or a RuntimeError with the end of it (naming
    only the first two words of the command: later ones may be passwords)."""
    return _run(BIN / "ckan", "-c", str(ini), *args, name=f"ckan {' '.join(args[:2])}")


def _run(*command: str | Path, name: str = "") -> str:
    result = subprocess.run(
        [str(part) for part in command], text=True, capture_output=True, timeout=300
    )
    if result.returncode:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-8:])
        what = name or " ".join(str(part) for part in command[1:3])
        raise RuntimeError(f"`{what}` failed ({result.returncode}):\n{tail}")
    return result.stdout


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def start(
    command: Sequence[str],
    url: str,
    log: Path | None = None,
    env: Mapping[str, str] = {},
    timeout: float = 90,
) -> subprocess.Popen[bytes]:
    """Start a server (with `env` added to its environment) and wait until `url` answers
    200. Its output goes to `log` (or this terminal). If it stops, answers an error or is
    silent for `timeout` seconds, or the wait is interrupted (Ctrl-C, `kill`), it is
    stopped, and the error says why."""
    with open(log, "wb") if log else contextlib.nullcontext() as out:
        process = subprocess.Popen(
            list(command),
            stdout=out,
            stderr=out and subprocess.STDOUT,
            env={**os.environ, **env},
        )
    try:
        why = _wait(process, url, timeout)
    except BaseException:
        stop(process)
        raise
    if why:
        stop(process)
        said = log.read_text(errors="replace")[-4000:] if log else "(its output is above)"
        raise RuntimeError(f"the server for {url} {why}:\n{said}")
    return process


def _wait(process: subprocess.Popen[bytes], url: str, timeout: float) -> str:
    """Why `url` did not answer 200 ("" once it did)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"stopped (exit code {process.returncode})"
        try:
            with urllib.request.urlopen(url, timeout=5):
                return ""
        except urllib.error.HTTPError as error:
            return f"answered {error.code}"
        except OSError:  # not listening yet
            time.sleep(0.2)
    return f"did not answer within {timeout:g} s"


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a server (SIGTERM, then SIGKILL after 10 s). Safe to call twice."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wsgi_app() -> Any:
    """CKAN's WSGI application for the ini in `CKAN_INI`, with the JavaScript translations
    built first, as `ckan run` does."""
    from ckan.cli import load_config
    from ckan.config.middleware import make_app
    from ckan.lib.i18n import build_js_translations

    app = make_app(load_config(os.environ["CKAN_INI"]))
    build_js_translations()
    return app
