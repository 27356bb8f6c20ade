"""Benchmark `weight`: the bytes the extension adds to a visitor's download, against four
other consent managers' distributed builds (from node_modules/, `make node_modules/.installed`).

Ours: the JavaScript and CSS bundles exactly as CKAN serves them in production
(`debug = false`, `ckan.webassets.debug` false): the page's `<script src>` and
`<link href>` of `cookieconsent/..._cookieconsent.js|css`, fetched from the server. CKAN's
webassets minify the JavaScript (our `webassets.yml` asks for `rjsmin`) but apply no
filter to the CSS, so the CSS is also measured through `minify_css()` below, a simple
deterministic minifier (comments and spaces only), and reported on a second row.

Peers: the files a site includes by default, as their packages distribute them; gzip
level 9 (Python's `gzip`) on each file, summed per package. Counts, not timings: the
figures do not depend on the machine's load.
"""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin

from bench_pages import CATALOGUE, enabled_server
from ckan_server import ROOT, Workspace
from measure import Client, Settings
from report import Check, Result, Table

KEY = "weight"
NODE_MODULES = ROOT / "node_modules"
ASSETS = ROOT / "ckanext" / "cookieconsent" / "assets"
BUDGET = 3000  # bytes gzipped: "3 KB", read as 3,000 bytes (3 KiB would be 3,072)
_SCRIPT = re.compile(r'<script\b[^>]*\bsrc="([^"]*cookieconsent[^"/]*\.js)"')
_STYLE = re.compile(r'<link\b[^>]*\bhref="([^"]*cookieconsent[^"/]*\.css)"')


@dataclass(frozen=True)
class Part:
    """One file a site includes: its readable source (if distributed) and what is sent."""

    what: str  # how the file is named in the section
    raw: bytes  # the readable source, or the sent file if only that is distributed
    sent: bytes  # the minified file, as served or distributed

    @property
    def gzipped(self) -> int:
        return len(gzip.compress(self.sent, compresslevel=9, mtime=0))


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    parts: tuple[Part, ...]

    def total(self, measure: Callable[[Part], int]) -> int:
        return sum(measure(part) for part in self.parts)

    @property
    def gzipped(self) -> int:
        return self.total(lambda p: p.gzipped)


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    server = enabled_server(workspace)
    progress("server up: extension enabled (production webassets)")
    with Client(server.url + "/about") as client:
        status, _, page = client.fetch("GET")
        html = page.decode()
        script, style = _SCRIPT.search(html), _STYLE.search(html)
        if status != 200 or script is None or style is None:
            raise RuntimeError(f"GET /about ({status}): no cookieconsent script or stylesheet tag")
        served: dict[str, tuple[str, bytes]] = {}
        for kind, found in (("js", script), ("css", style)):
            url = urljoin(server.url + "/about", found.group(1))
            status, _, body = client.fetch("GET", url.removeprefix(server.url))
            if status != 200:
                raise RuntimeError(f"GET {url} answered {status}")
            served[kind] = (url.removeprefix(server.url), body)

    js_source = (ASSETS / "js" / "cookieconsent.js").read_bytes()
    css_source = (ASSETS / "css" / "cookieconsent.css").read_bytes()
    js_path, js_served = served["js"]
    css_path, css_served = served["css"]
    as_served = Package(
        "ckanext-cookieconsent, as CKAN serves it",
        importlib.metadata.version("ckanext-cookieconsent"),
        (
            Part(f"`{js_path}` (rjsmin)", js_source, js_served),
            Part(f"`{css_path}` (as served)", css_source, css_served),
        ),
    )
    minified = Package(
        "ckanext-cookieconsent, CSS minified here",
        as_served.version,
        (
            as_served.parts[0],
            Part("the CSS through `minify_css()`", css_source, minify_css(css_served)),
        ),
    )
    peers = _peers()
    progress(f"measured ours and {len(peers)} peers")

    smallest = min(peers, key=lambda p: p.gzipped)
    ratio = as_served.gzipped / smallest.gzipped
    rows = [_row(package) for package in (as_served, minified, *peers)]
    files = [
        [package.name, part.what, f"{len(part.raw):,}", f"{len(part.sent):,}", f"{part.gzipped:,}"]
        for package in (as_served, minified, *peers)
        for part in package.parts
    ]
    ranked = sorted((as_served, *peers), key=lambda p: p.gzipped)
    return Result(
        key=KEY,
        title="Weight: the extension's JavaScript and CSS against four consent managers",
        compared=(
            "Bytes a visitor downloads for the consent manager: ours as CKAN serves it in "
            "production (the page's `cookieconsent` script and stylesheet bundles fetched "
            f"from a CKAN server with `debug = false`, catalogue `{CATALOGUE}`) against the "
            "files a site includes by default from four consent managers' npm packages. "
            "*raw*: the readable source (ours: `assets/js/cookieconsent.js` and "
            "`assets/css/cookieconsent.css`; a peer's unminified file when its package "
            "ships one, else its distributed file); *minified*: what is sent (ours: as "
            "served; peers: the minified files); *gzipped*: gzip level 9 of each sent "
            "file, summed. Not counted for ours: the banner's HTML and the inline "
            '`<script type="application/json" id="cookieconsent-settings">` in each page '
            "(see `pages`, column page bytes)."
        ),
        columns=["", "version", "raw bytes", "minified bytes", "gzipped bytes"],
        rows=rows,
        ratio_name=f"gzipped bytes, ours as served / the smallest peer ({smallest.name})",
        ratio=ratio,
        target=None,  # judged by the checks: the budget, and the smallest of the five
        notes=[
            "Ours: webassets minify the JavaScript with rjsmin (`filters: rjsmin` in "
            "`assets/webassets.yml`); the CSS bundle has no filter, so CKAN serves it as "
            "written (comments and indentation included). The second row minifies that "
            "CSS with this benchmark's `minify_css()` (comments dropped, whitespace "
            "collapsed, spaces around `{ } ; , :` and before `}` removed; strings kept): "
            "what a `cssmin`-like filter would send.",
            "Peers, what a site includes by default: **vanilla-cookieconsent** "
            "`dist/cookieconsent.umd.js` + `dist/cookieconsent.css` (both minified); "
            "**klaro** `dist/klaro.js`, the build its README embeds, which carries its CSS "
            "and every translation (the alternative `klaro-no-css.js` + `klaro.min.css` is "
            f"{_klaro_alternative():,} bytes gzipped); **orejime** "
            "`dist/orejime-standard-fr.js` + `dist/orejime-standard.css` (its README's CDN "
            "example, one build per language, French here); **tarteaucitronjs** "
            "`tarteaucitron.min.js`, plus what it loads by itself at start-up (`load()`): "
            "`css/tarteaucitron.min.css`, the language file `lang/tarteaucitron.fr.min.js` "
            "and the services file `tarteaucitron.services.min.js` (the core without the "
            f"services file: {_tarteaucitron_core():,} bytes gzipped).",
            "Ranked by gzipped bytes: "
            + ", ".join(f"{p.name} {p.gzipped:,}" for p in ranked)
            + f". Budget for ours: {BUDGET:,} bytes gzipped (3 KB).",
        ],
        tables=[
            Table(
                "Files",
                ["package", "file", "raw bytes", "minified bytes", "gzipped bytes"],
                files,
            )
        ],
        checks=[
            Check(
                f"ours, as served, ≤ {BUDGET:,} bytes gzipped ({as_served.gzipped:,})",
                as_served.gzipped <= BUDGET,
            ),
            Check(
                "ours, as served, the smallest of the five gzipped",
                ranked[0] is as_served,
            ),
            Check(
                "the JavaScript is served minified (smaller than its source)",
                len(js_served) < len(js_source),
            ),
        ],
    )


def minify_css(css: bytes) -> bytes:
    """A simple, deterministic CSS minifier: drops comments, collapses whitespace, removes
    it around `{ } ; , :` and the `;` before `}`; leaves strings alone. Safe for our
    stylesheet (no `:` needs a space before it: only spaces after `:` are removed)."""
    text = css.decode()
    pieces = re.split(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""", text)
    out: list[str] = []
    for index, piece in enumerate(pieces):
        if index % 2:  # a string literal
            out.append(piece)
            continue
        piece = re.sub(r"/\*.*?\*/", "", piece, flags=re.DOTALL)
        piece = re.sub(r"\s+", " ", piece)
        piece = re.sub(r"\s*([{};,])\s*", r"\1", piece)
        piece = re.sub(r":\s+", ":", piece)
        piece = piece.replace(";}", "}")
        out.append(piece)
    return "".join(out).strip().encode()


def _peers() -> list[Package]:
    missing = [
        name
        for name in ("vanilla-cookieconsent", "klaro", "orejime", "tarteaucitronjs")
        if not (NODE_MODULES / name / "package.json").exists()
    ]
    if missing:
        raise RuntimeError(
            f"node_modules lacks {', '.join(missing)}: run `make node_modules/.installed`"
        )
    return [
        _package(
            "vanilla-cookieconsent",
            [("dist/cookieconsent.umd.js", None), ("dist/cookieconsent.css", None)],
        ),
        _package("klaro", [("dist/klaro.js", None)]),
        _package(
            "orejime",
            [("dist/orejime-standard-fr.js", None), ("dist/orejime-standard.css", None)],
        ),
        _package(
            "tarteaucitronjs",
            [
                ("tarteaucitron.min.js", "tarteaucitron.js"),
                ("css/tarteaucitron.min.css", "css/tarteaucitron.css"),
                ("lang/tarteaucitron.fr.min.js", "lang/tarteaucitron.fr.js"),
                ("tarteaucitron.services.min.js", "tarteaucitron.services.js"),
            ],
        ),
    ]


def _package(name: str, files: list[tuple[str, str | None]]) -> Package:
    """`files`: (the file sent, its readable source if the package ships one)."""
    base = NODE_MODULES / name
    version = json.loads((base / "package.json").read_text())["version"]
    parts = []
    for sent, source in files:
        body = (base / sent).read_bytes()
        raw = (base / source).read_bytes() if source else body
        parts.append(Part(f"`{sent}`", raw, body))
    return Package(name, version, tuple(parts))


def _klaro_alternative() -> int:
    return _package("klaro", [("dist/klaro-no-css.js", None), ("dist/klaro.min.css", None)]).gzipped


def _tarteaucitron_core() -> int:
    return _package(
        "tarteaucitronjs",
        [
            ("tarteaucitron.min.js", None),
            ("css/tarteaucitron.min.css", None),
            ("lang/tarteaucitron.fr.min.js", None),
        ],
    ).gzipped


def _row(package: Package) -> list[str]:
    return [
        package.name,
        package.version,
        f"{package.total(lambda p: len(p.raw)):,}",
        f"{package.total(lambda p: len(p.sent)):,}",
        f"{package.gzipped:,}",
    ]
