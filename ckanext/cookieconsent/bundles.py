"""Our webassets bundles on a page, as CKAN's `{% asset %}` includes them, without their
cost on every request.

`{% asset %}` asks webassets for a bundle's URLs on each request, and webassets checks the
bundle's files to see whether it must be built again (0.4 to 0.9 ms for our two). In
production (`ckan.webassets.debug` false; `debug` on CKAN 2.11) the bundles do not change
while the process runs: their URLs are resolved once per process, the first time a page
asks, and kept. In debug mode they are resolved on every call, as CKAN does.

A bundle is included at most once per page, whoever asks for it: we keep CKAN's own record
of the page's assets (`g._webassets`, which `{% asset %}` also keeps), and CKAN's
`render_assets` renders the tags, where it renders those of `{% asset %}`.
"""

from __future__ import annotations

from typing import Any, Literal

import ckan.plugins.toolkit as tk
from ckan.lib import webassets_tools

Kind = Literal["style", "script"]

# Per process: {bundle name: (kind, URLs)}, for the webassets environment they came from
# (a test run builds several apps in one process, each with its environment).
_resolved: dict[str, tuple[Kind, tuple[str, ...]]] = {}
_resolved_for: list[object] = []


def _resolve(name: str) -> tuple[Kind, tuple[str, ...]] | None:
    """The kind and URLs of bundle `name`, as `include_asset` computes them; None if no
    such bundle (CKAN logs it and renders nothing)."""
    env: Any = webassets_tools.env
    if not env.debug:
        if not _resolved_for or _resolved_for[0] is not env:
            _resolved.clear()
            _resolved_for[:] = [env]
        if name in _resolved:
            return _resolved[name]
    if name not in env:
        return None
    urls = tuple(tk.h.url_for_static_or_external(url) for url in env[name].urls())
    first = urls[0].split("?")[0] if urls else ""
    kind: Kind = "style" if first.endswith(".css") else "script"
    if not env.debug:
        _resolved[name] = (kind, urls)
    return kind, urls


def urls(*names: str) -> list[str]:
    """The URLs of these bundles (and of the bundles they preload), for the script to load
    them itself when first needed (the dialog, the forms' script), less those this page
    already includes (so far: the script's settings come after the page's content)."""
    page = getattr(tk.g, "_webassets", None)
    included = page["included"] if page else set()
    found: list[str] = []
    for name in names:
        if name in included:
            continue
        resolved = _resolve(name)
        env: Any = webassets_tools.env
        if resolved is not None:
            found += urls(*env[name].extra.get("preload", []))
            found += [url for url in resolved[1] if url not in found]
    return found


def include(name: str) -> None:
    """Include bundle `name` (after those it preloads) once in this page, as CKAN's
    `include_asset` does, with the URLs resolved once per process: CKAN's `render_assets`
    then renders its tags, style sheets in the head (from the styles block) or at the end
    of the body, scripts at the end of the body, in the order they were included."""
    g = tk.g
    if not hasattr(g, "_webassets"):
        g._webassets = {"style": [], "script": [], "included": set()}
    page = g._webassets
    if name in page["included"]:
        return
    resolved = _resolve(name)
    if resolved is None:
        return
    page["included"].add(name)
    env: Any = webassets_tools.env
    for dep in env[name].extra.get("preload", []):
        include(dep)
    kind, found = resolved
    page[kind].extend(found)
