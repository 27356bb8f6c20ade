"""Serve a demo CKAN portal with ckanext-cookieconsent: `make demo`.

Starts an embedded PostgreSQL whose data lives in .demo/ (kept between runs), writes
.demo/demo.ini at each start (with `ckan generate config` and `ckan config-tool`:
dev/ckan_site.py), initialises the database, creates a sysadmin and serves CKAN on
127.0.0.1 with the demo catalogue (dev/demo_catalogue.yaml) and theme (dev/demo_theme/: a
gated statistics script and a gated embed). Ctrl-C stops CKAN and PostgreSQL.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

from ckan_site import BIN, ckan, logging_at, start, stop, write_ini
from embedded_pg import EmbeddedPostgres

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".demo"
ADMIN = "admin"

# The demo's catalogue and theme: a statistics script and an embedded frame, both gated.
CATALOGUE = ROOT / "dev" / "demo_catalogue.yaml"
THEME = ROOT / "dev" / "demo_theme"

# Where signing in lands (ckan.auth.route_after_login, in CKAN 2.11 and 2.12). CKAN's
# default, the dashboard's dataset list (/dashboard/datasets), needs Solr.
AFTER_LOGIN = "cookieconsent.dashboard"
DASHBOARD = "/ckan-admin/cookies"

# Pages that work without Solr; the home page and /dataset search and need it.
PAGES = [
    ("/about", "the gating showcase: the banner, a statistics script and an embed"),
    ("/cookies", "the cookie policy: every cookie, and your choice"),
    ("/user/login", f"sign in (user {ADMIN!r}): you land on {DASHBOARD}"),
    (DASHBOARD, "the consent records' dashboard (sysadmins): rates, chart, CSV export"),
    ("/api/3/action/cookieconsent_policy_show", "the policy through the action API"),
    ("/api/3/action/status_show", "CKAN's status: lists the loaded extensions"),
]

SHOWCASE = """
Gating at work: open {base}/about (its frame comes from localhost, another site).
  Before any choice: no request for /demo/stats.js nor for the frame, no demo cookie.
  Accept all: the badge "Statistics script loaded" appears at the bottom left and the
  frame loads, without a reload. Refuse, or withdraw on the policy page, and the cookie
  demo_stats_id is deleted: {base}/cookies"""


def _secret(name: str) -> str:
    """A random value kept in .demo/, so that restarts keep sessions and passwords."""
    path = DEMO / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def configure(port: int, database_url: str) -> Path:
    solr_url = os.environ.get("CKAN_SOLR_URL", "http://127.0.0.1:8983/solr/ckan")
    # COOKIECONSENT_CATALOGUE picks another catalogue; set but empty: the built-in one only.
    catalogue = os.environ.get("COOKIECONSENT_CATALOGUE", str(CATALOGUE))
    options = {
        "ckan.site_url": f"http://127.0.0.1:{port}",
        "ckan.site_title": "CKAN cookie consent demo",
        "ckan.site_id": "cookieconsent_demo",
        "sqlalchemy.url": database_url,
        "solr_url": solr_url,
        "SECRET_KEY": _secret("secret-key"),
        "ckan.plugins": "activity cookieconsent",
        "ckan.locales_offered": "en fr",
        "ckan.storage_path": str(DEMO / "storage"),
        "ckan.auth.route_after_login": AFTER_LOGIN,
        "ckanext.cookieconsent.catalogue": catalogue,
        # The demo theme (no plugin): a gated statistics script on every page, a gated
        # embed on /about.
        "extra_template_paths": str(THEME / "templates"),
        "extra_public_paths": str(THEME / "public"),
    }
    # No Solr and no Redis here: CKAN says so in one line each at start ("Problems were
    # found while connecting to the SOLR server", "Could not connect to Redis"); these two
    # loggers would add a traceback to each.
    quiet = {"level": "CRITICAL", "handlers": "console", "propagate": "0"}
    sections = {
        **logging_at("INFO"),
        "loggers": {"keys": "root, ckan, ckanext, werkzeug, solr_check, redis_check"},
        "logger_solr_check": {**quiet, "qualname": "ckan.lib.search.common"},
        "logger_redis_check": {**quiet, "qualname": "ckan.lib.redis"},
    }
    return write_ini(DEMO / "demo.ini", options, sections)


def ensure_sysadmin(ini: Path) -> str:
    password = _secret("admin-password")
    # `ckan user list` prints "name=<name>" or "name=<name> display=<display name>".
    listed = ckan(ini, "user", "list").splitlines()
    names = {line.split()[0].removeprefix("name=") for line in listed if line.startswith("name=")}
    if ADMIN not in names:
        ckan(ini, "user", "add", ADMIN, "email=admin@example.org", f"password={password}")
    ckan(ini, "sysadmin", "add", ADMIN)
    return password


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    # Ctrl-C and `kill` both end in the `finally` below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    DEMO.mkdir(exist_ok=True)
    print("Starting PostgreSQL (data in .demo/pgdata) ...", flush=True)
    postgres = EmbeddedPostgres(DEMO / "pgdata", delete_on_stop=False)
    server: subprocess.Popen[bytes] | None = None
    try:
        # One database per CKAN version: 2.11 cannot run on a database migrated by 2.12.
        ckan_version = importlib.metadata.version("ckan").replace(".", "_")
        ini = configure(args.port, postgres.database_url(f"ckan_demo_{ckan_version}"))
        print("Initialising the database ...", flush=True)
        ckan(ini, "db", "init")
        ckan(ini, "db", "upgrade", "-p", "cookieconsent")  # the consent records' tables
        password = ensure_sysadmin(ini)
        # Threaded: a browser opens several connections at once (and idle spare ones), which
        # a single-threaded server serves one after the other, stalling pages for seconds.
        base = f"http://127.0.0.1:{args.port}"
        server = start(
            [str(BIN / "ckan"), "-c", str(ini), "run", "--host", "127.0.0.1",
             "--port", str(args.port), "--disable-reloader", "--disable-debugger",
             "--threaded"],
            base + PAGES[0][0],
        )  # fmt: skip
        print(f"\nCKAN with ckanext-cookieconsent is up: {base}{PAGES[0][0]} answered 200.")
        print(f"Sysadmin: {ADMIN} / {password} (signing in lands on {base}{DASHBOARD})")
        print("\nPages worth opening:")
        for path, what in PAGES:
            print(f"  {base}{path:<45} {what}")
        print(SHOWCASE.format(base=base))
        if "CKAN_SOLR_URL" not in os.environ:
            print("\nNo Solr: the home page and /dataset need one (set CKAN_SOLR_URL).")
        print("\nCtrl-C stops CKAN and PostgreSQL.", flush=True)
        server.wait()
    except KeyboardInterrupt:
        pass
    except RuntimeError as error:  # a failed `ckan` command or start: its words, no traceback
        raise SystemExit(str(error)) from None
    finally:
        if server is not None:
            stop(server)
        postgres.stop()
        print("\nStopped CKAN and PostgreSQL.")


if __name__ == "__main__":
    main()
