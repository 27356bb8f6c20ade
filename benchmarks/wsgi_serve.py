"""Serve CKAN with waitress: `python wsgi_serve.py INI HOST PORT [THREADS]` (started by
ckan_server.py).

One process and, by default, one application thread, as `ckan run` has by default:
requests run one at a time, so a request's time is CKAN's work, not contention between
requests. THREADS > 1 lets concurrent requests run concurrently (a load test).
"""

from __future__ import annotations

import signal
import sys


def main() -> None:
    ini, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    threads = int(sys.argv[4]) if len(sys.argv) > 4 else 1
    # `kill` ends the process through SystemExit, as Ctrl-C does through KeyboardInterrupt.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

    import waitress
    from ckan.cli import load_config
    from ckan.config.middleware import make_app
    from ckan.lib.i18n import build_js_translations

    app = make_app(load_config(ini))
    build_js_translations()  # as `ckan run` does before serving, for the pages' scripts
    waitress.serve(app, host=host, port=port, threads=threads, ident="ckan", _quiet=True)


if __name__ == "__main__":
    main()
