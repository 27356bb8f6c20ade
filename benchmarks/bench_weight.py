"""Benchmark `weight`: the bytes the extension adds to a visitor's download, against four
other consent managers' distributed builds (from node_modules/, `make node_modules/.installed`).

Ours: what each kind of page really loads of ours, as CKAN serves it in production
(`debug = false`, `ckan.webassets.debug` false): every `<script src>` and `<link href>` of
`/webassets/cookieconsent/` in the page, fetched from the server, for an ordinary page
(`/about`) on a first visit (the banner shown) and with a choice made, the policy page
(`/cookies`), and a page with an embed (`/about` of a benchmark theme with one
`gate.embed`, first visit: the banner and the embed's placeholder); and, counted apart
since the page loads them only on a visitor's action, what the banner's first sign of
intent loads (the forms' script: a pointer over it, a touch, the focus or a key) and what
the footer's "Cookies" link loads when it first opens the preferences dialog (the bundles
whose URLs the page's settings carry, less those the page already has). CKAN's webassets
minify the JavaScript (`rjsmin`) and the CSS (`rcssmin`), as `webassets.yml` asks.

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
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from bench_pages import CATALOGUE, enabled_server
from ckan_server import ROOT, Server, Workspace
from measure import Client, Settings
from report import Check, Result, Table
from visitor import PREFERENCES_COOKIE, preferences_cookie

KEY = "weight"
NODE_MODULES = ROOT / "node_modules"
ASSETS = ROOT / "ckanext" / "cookieconsent" / "assets"
THEME = Path(__file__).resolve().parent / "weight_theme"
BUDGET = 3000  # bytes gzipped: "3 KB", read as 3,000 bytes (3 KiB would be 3,072)
OURS = "/webassets/cookieconsent/"
_TAG = re.compile(r'<(?:script\b[^>]*\bsrc|link\b[^>]*\bhref)="([^"]*)"')
_SETTINGS = re.compile(
    r'<script type="application/json" id="cookieconsent-settings">(.*?)</script>', re.DOTALL
)
# A served bundle's name: <version>_<name>.<js|css>; its sources, as webassets.yml lists them.
_SERVED = re.compile(r"[0-9a-f]+_(cookieconsent[\w-]*)\.(js|css)")


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
    embeds = workspace.server(
        plugins=["cookieconsent"],
        options={
            "ckanext.cookieconsent.catalogue": CATALOGUE,
            "extra_template_paths": str(THEME / "templates"),
        },
    )
    progress("servers up: extension enabled (production webassets), and with an embed theme")
    chosen = {"Cookie": f"{PREFERENCES_COOKIE}={preferences_cookie(server.url)}"}
    version = importlib.metadata.version("ckanext-cookieconsent")
    banner, banner_html = _page(server, "/about", {}, "`/about`, first visit (banner)")
    with_choice, chosen_html = _page(server, "/about", chosen, "`/about`, choice made")
    policy, _ = _page(server, "/cookies", {}, "`/cookies` (policy page), first visit")
    embed, _ = _page(embeds, "/about", {}, "`/about` with an embed, first visit")
    intent = _on_interaction(
        server,
        banner_html,
        {},
        "forms",
        "the banner, added on first interaction (first visit)",
    )
    dialog = _on_interaction(
        server, chosen_html, chosen, "dialog", "the dialog, on first opening (choice made)"
    )
    ours = [banner, with_choice, policy, embed, intent, dialog]
    ordinary = [banner, with_choice]
    peers = _peers()
    progress(f"measured ours on {len(ours) - 2} pages and on interaction, and {len(peers)} peers")

    worst = max(ordinary, key=lambda p: p.gzipped)
    smallest = min(peers, key=lambda p: p.gzipped)
    ranked = sorted((worst, *peers), key=lambda p: p.gzipped)
    served_sources = [
        part for package in ours for part in package.parts if part.raw is not part.sent
    ]
    rows = [_row(package, version) for package in ours] + [
        _row(package, package.version) for package in peers
    ]
    files = [
        [package.name, part.what, f"{len(part.raw):,}", f"{len(part.sent):,}", f"{part.gzipped:,}"]
        for package in (*ours, *peers)
        for part in package.parts
    ]
    return Result(
        key=KEY,
        title="Weight: the extension's JavaScript and CSS against four consent managers",
        compared=(
            "Bytes a visitor downloads for the consent manager: ours as CKAN serves it in "
            "production (every `/webassets/cookieconsent/` script and style sheet a page "
            f"includes, fetched from a CKAN server with `debug = false`, catalogue `{CATALOGUE}`), "
            "per kind of page, against the files a site includes by default from four consent "
            "managers' npm packages. *raw*: the readable source (ours: the files of "
            "`assets/js/` and `assets/css/` each bundle is made of; a peer's unminified file "
            "when its package ships one, else its distributed file); *minified*: what is sent "
            "(ours: as served; peers: the minified files); *gzipped*: gzip level 9 of each "
            "sent file, summed. Not counted for ours: the banner's HTML and the inline "
            '`<script type="application/json" id="cookieconsent-settings">` in each page '
            "(see `pages`, column page bytes)."
        ),
        columns=["", "version", "raw bytes", "minified bytes", "gzipped bytes"],
        rows=rows,
        ratio_name=(
            f"gzipped bytes, ours on an ordinary page at its heaviest ({worst.name}) / the "
            f"smallest peer ({smallest.name})"
        ),
        ratio=worst.gzipped / smallest.gzipped,
        target=None,  # judged by the checks: the budget, and the smallest of the five
        notes=[
            "Ours: each bundle is included only by the templates that need it "
            "(`assets/webassets.yml`): on every page the core script (the choice, the API, "
            "gated scripts, refused cookies); with the banner its style sheet; on the policy "
            "page the forms' script, its tables and summary; with an embed the forms' script "
            "and its placeholder's style sheet and script. Loaded by the core script only on "
            "a visitor's action, and counted apart (the last two rows of ours): with the "
            "banner, the forms' script, on the first sign of intent in it (a pointer over "
            "it, a touch, the focus, a key; a choice made before it arrives is the plain "
            "form POST, which works without JavaScript); the dialog's style sheet and script, "
            "the first time the footer's link needs them. webassets minify the JavaScript "
            "with rjsmin and the CSS with rcssmin.",
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
            "Ranked by gzipped bytes (ours: an ordinary page at its heaviest): "
            + ", ".join(f"{p.name} {p.gzipped:,}" for p in ranked)
            + f". Budget for ours on an ordinary page: {BUDGET:,} bytes gzipped (3 KB).",
        ],
        tables=[
            Table(
                "Files",
                ["package or page", "file", "raw bytes", "minified bytes", "gzipped bytes"],
                files,
            )
        ],
        checks=[
            *(
                Check(
                    f"ours, {page.name}, ≤ {BUDGET:,} bytes gzipped ({page.gzipped:,})",
                    page.gzipped <= BUDGET,
                )
                for page in ordinary
            ),
            Check(
                "ours, on an ordinary page at its heaviest, the smallest of the five gzipped",
                ranked[0] is worst,
            ),
            Check(
                "the JavaScript and the CSS are served minified (each smaller than its source)",
                bool(served_sources) and all(len(p.sent) < len(p.raw) for p in served_sources),
            ),
        ],
    )


def _fetch(client: Client, server: Server, path: str, headers: dict[str, str]) -> bytes:
    status, _, body = client.fetch("GET", path, headers=headers)
    if status != 200:
        raise RuntimeError(f"GET {server.url}{path} answered {status}")
    return body


def _bundle(client: Client, server: Server, url: str, headers: dict[str, str]) -> Part:
    """One of our served bundles, with the sources webassets.yml makes it of."""
    path = urlsplit(urljoin(server.url + "/", url)).path
    sent = _fetch(client, server, path, headers)
    found = _SERVED.search(path.rsplit("/", 1)[-1])
    raw = _sources(found.group(1), found.group(2)) if found else sent
    return Part(f"`{path.removeprefix(OURS)}`", raw, sent)


def _page(server: Server, path: str, headers: dict[str, str], name: str) -> tuple[Package, str]:
    """What the page at `path` loads of ours, and its HTML."""
    with Client(server.url + path) as client:
        html = _fetch(client, server, path, headers).decode()
        urls = [url for url in _TAG.findall(html) if OURS in url]
        if not any(url.split("?")[0].endswith(".js") for url in urls):
            raise RuntimeError(f"GET {path}: no {OURS} script in the page")
        parts = tuple(_bundle(client, server, url, headers) for url in dict.fromkeys(urls))
    return Package(name, "", parts), html


def _on_interaction(
    server: Server, html: str, headers: dict[str, str], part: str, name: str
) -> Package:
    """What the core script loads for `part` on a visitor's action (the forms' script on
    the banner's first sign of intent, the dialog on the footer's link): the bundles whose
    URLs the page's settings carry for it, less those the page already has."""
    found = _SETTINGS.search(html)
    if found is None:
        raise RuntimeError("GET /about: no cookieconsent settings in the page")
    parts = json.loads(found.group(1))["parts"]
    if part not in parts:
        raise RuntimeError(f"GET /about: the settings carry no bundle for {part!r}")
    loaded = set(_TAG.findall(html))
    urls = [url for url in parts[part] if url not in loaded]
    with Client(server.url + "/about") as client:
        bundles = tuple(_bundle(client, server, url, headers) for url in urls)
    return Package(name, "", bundles)


def _sources(name: str, kind: str) -> bytes:
    """The readable sources of bundle `name` (webassets.yml), concatenated."""
    listed = re.search(
        rf"^{re.escape(name)}-{kind}:\n(?:  .*\n)*?  contents:\n((?:    - .*\n)+)",
        (ASSETS / "webassets.yml").read_text(),
        re.MULTILINE,
    )
    if listed is None:
        raise RuntimeError(f"webassets.yml lists no bundle {name}-{kind}")
    files = [line.strip().removeprefix("- ") for line in listed.group(1).splitlines()]
    return b"".join((ASSETS / file).read_bytes() for file in files)


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


def _row(package: Package, version: str) -> list[str]:
    return [
        package.name,
        version,
        f"{package.total(lambda p: len(p.raw)):,}",
        f"{package.total(lambda p: len(p.sent)):,}",
        f"{package.gzipped:,}",
    ]
