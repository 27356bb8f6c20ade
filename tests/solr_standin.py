"""A loopback stand-in for Solr, enough for CKAN to create, update and delete datasets.

Solr cannot be installed on these machines, and CKAN indexes every dataset it writes
(`package_create`, `resource_create`, `resource_view_create` reindex the dataset): without
a Solr answering, those actions fail. The stand-in answers what CKAN asks on those paths
(ckan/lib/search/common.py and __init__.py, through pysolr):

- `GET <core>/select` (`is_available`, searches): no documents found;
- `GET <core>/schema?wt=schema.xml` (`check_solr_schema_version`): a schema named
  `ckan-2.11`, a version both CKAN 2.11 and 2.12 support; `GET <core>/schema/name` the
  same name as JSON;
- `POST <core>/update` (indexing, deleting, committing): success, the body kept.

Searching is not emulated: pages that list datasets still find none. Use:

    with SolrStandin() as solr:
        ckan_config["solr_url"] = solr.url   # CKAN reads the option at each connection
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import cast
from urllib.parse import parse_qs, urlsplit

CORE = "ckan-standin"
SCHEMA_NAME = "ckan-2.11"


@dataclass
class SolrRequest:
    method: str
    path: str  # below the core: "select", "update", "schema"
    query: dict[str, list[str]]
    body: bytes = b""


@dataclass
class _Record:
    requests: list[SolrRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # quiet: the record is the log

    def do_GET(self) -> None:
        request = self._note(b"")
        if request is None:
            return
        if request.path == "select":
            self._json({"responseHeader": {"status": 0, "QTime": 0},
                        "response": {"numFound": 0, "start": 0, "docs": []}})  # fmt: skip
        elif request.path == "schema" and request.query.get("wt") == ["schema.xml"]:
            self._send(
                200,
                "application/xml",
                f'<?xml version="1.0" encoding="UTF-8"?>\n'
                f'<schema name="{SCHEMA_NAME}" version="1.6"></schema>\n'.encode(),
            )
        elif request.path == "schema/name":
            self._json({"responseHeader": {"status": 0, "QTime": 0}, "name": SCHEMA_NAME})
        elif request.path == "admin/ping":
            self._json({"responseHeader": {"status": 0, "QTime": 0}, "status": "OK"})
        else:
            self._send(404, "text/plain", b"not emulated")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = self._note(self.rfile.read(length))
        if request is None:
            return
        if request.path.rstrip("/") == "update":
            self._json({"responseHeader": {"status": 0, "QTime": 0}})
        else:
            self._send(404, "text/plain", b"not emulated")

    def _note(self, body: bytes) -> SolrRequest | None:
        parts = urlsplit(self.path)
        prefix = f"/solr/{CORE}/"
        if not parts.path.startswith(prefix):
            self._send(404, "text/plain", b"no such core")
            return None
        request = SolrRequest(
            self.command, parts.path[len(prefix) :].rstrip("/"), parse_qs(parts.query), body
        )
        record = cast(_Server, self.server).record
        with record.lock:
            record.requests.append(request)
        return request

    def _json(self, document: object) -> None:
        self._send(200, "application/json", json.dumps(document).encode())

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    record: _Record


class SolrStandin:
    """The stand-in, served on 127.0.0.1 (a free port) while the `with` block runs."""

    def __init__(self) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.record = _Record()
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="solr-standin",
            daemon=True,
        )

    @property
    def url(self) -> str:
        """The value for CKAN's `solr_url`."""
        return f"http://127.0.0.1:{self._server.server_port}/solr/{CORE}"

    @property
    def requests(self) -> list[SolrRequest]:
        with self._server.record.lock:
            return list(self._server.record.requests)

    def updates(self) -> list[SolrRequest]:
        """The indexing requests (adds, deletes, commits) received so far."""
        return [r for r in self.requests if r.method == "POST" and r.path == "update"]

    def __enter__(self) -> SolrStandin:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
