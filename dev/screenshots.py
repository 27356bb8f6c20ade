"""Regenerate the documentation's screenshots in docs/: `make screenshots`.

Starts a temporary embedded PostgreSQL and a CKAN server with the extension, the demo
catalogue (dev/demo_catalogue.yaml) and the demo theme (dev/demo_theme/: a gated embed on
/about), through the benchmarks' `Workspace` (benchmarks/ckan_server.py, whose ini files
come from dev/ckan_site.py); opens the pages
in headless chromium (Debian's, /usr/bin/chromium, through Playwright), each shot in a
fresh browser context (no cookie: the banner shows), writes the PNGs, then stops
everything and deletes the temporary directory, also on error or Ctrl-C.

    python dev/screenshots.py                      # every shot
    python dev/screenshots.py policy-page-en       # some of them (names without .png)
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from ckan_server import Workspace  # noqa: E402  # pyright: ignore[reportMissingImports]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, ViewportSize

DOCS = ROOT / "docs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
OPTIONS = {
    "ckan.site_title": "CKAN cookie consent demo",  # as `make demo`, shown in the footer
    "ckanext.cookieconsent.catalogue": str(ROOT / "dev" / "demo_catalogue.yaml"),
    "extra_template_paths": str(ROOT / "dev" / "demo_theme" / "templates"),
    "extra_public_paths": str(ROOT / "dev" / "demo_theme" / "public"),
}
ALL_LOCALES = {"ckan.locales_offered": "en fr ar ja de"}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}
MOBILE: ViewportSize = {"width": 375, "height": 667}
TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class Shot:
    """One PNG: a page in a window, optionally an action first, then the window, the whole
    page or one element."""

    name: str
    path: str
    viewport: ViewportSize = field(default_factory=lambda: DESKTOP)
    locale: str = "en-GB"
    mobile: bool = False
    before: Callable[[Page], None] | None = None
    element: str | None = None  # a CSS selector: shoot that element only
    full_page: bool = False
    options: dict[str, str] = field(default_factory=dict)  # ini options beyond OPTIONS


def _open_preferences(page: Page) -> None:
    page.locator("[data-cookieconsent-customise]").click()
    page.locator("#cookieconsent-preferences.is-open").wait_for(state="visible")
    page.mouse.move(0, 0)  # off the button: no hover style in the picture


def _open_dialog(page: Page) -> None:
    """After a choice, the footer's "Cookies" link opens the choice in a dialog."""
    page.locator("#cookieconsent-banner button[value=refuse_all]").click()
    page.locator("#cookieconsent-banner").wait_for(state="hidden")
    page.locator("footer [data-cookieconsent-open]").click()
    page.locator("dialog.cookieconsent-dialog").wait_for(state="visible")
    page.mouse.move(0, 0)


SHOTS = [
    Shot("banner-desktop-en", "/about"),
    Shot("banner-mobile-fr", "/fr/about", viewport=MOBILE, locale="fr-FR", mobile=True),
    Shot(
        "preferences-open-en",
        "/about",
        before=_open_preferences,
        element="#cookieconsent-banner",
    ),
    Shot("policy-page-en", "/cookies", full_page=True),
    Shot("policy-page-mobile-en", "/cookies", viewport=MOBILE, mobile=True, full_page=True),
    Shot(
        "banner-bottom-mobile-en",
        "/about",
        viewport=MOBILE,
        mobile=True,
        options={"ckanext.cookieconsent.position": "bottom"},
    ),
    Shot("preferences-dialog-en", "/about", before=_open_dialog),
    Shot("embed-placeholder-en", "/about", element="[data-cookieconsent-embed]"),
    # Right-to-left and a CJK script (the portal offers every language CKAN ships).
    Shot("banner-desktop-ar", "/ar/about", locale="ar", options=ALL_LOCALES),
    Shot(
        "banner-mobile-ja",
        "/ja/about",
        viewport=MOBILE,
        locale="ja-JP",
        mobile=True,
        options=ALL_LOCALES,
    ),
]


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def shoot(browser: Browser, base: str, shot: Shot, out: Path) -> Path:
    context = browser.new_context(
        viewport=shot.viewport,
        locale=shot.locale,
        is_mobile=shot.mobile,
        has_touch=shot.mobile,
        device_scale_factor=1,
        reduced_motion="reduce",
    )
    try:
        context.set_default_timeout(TIMEOUT_MS)
        page = context.new_page()
        response = page.goto(base + shot.path, wait_until="load")
        if response is None or response.status != 200:
            raise RuntimeError(f"GET {shot.path}: {response.status if response else 'no answer'}")
        page.evaluate("() => document.fonts.ready.then(() => true)")
        if shot.before is not None:
            shot.before(page)
        target = out / f"{shot.name}.png"
        options: dict[str, Any] = {"path": str(target), "animations": "disabled"}
        if shot.element:
            page.locator(shot.element).screenshot(**options)
        else:
            page.screenshot(full_page=shot.full_page, **options)
        return target
    finally:
        context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("names", nargs="*", metavar="NAME", help="shots to take (default: all)")
    parser.add_argument("--out", type=Path, default=DOCS, help="where to write (default: docs/)")
    args = parser.parse_args(argv)
    known = {shot.name: shot for shot in SHOTS}
    unknown = [name for name in args.names if name not in known]
    if unknown:
        parser.error(f"unknown shot(s) {', '.join(unknown)}; known: {', '.join(known)}")
    if not CHROMIUM.exists():
        parser.error(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        with Workspace() as workspace:
            print("PostgreSQL up; starting CKAN with the demo catalogue and theme ...", flush=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
                )
                try:
                    for name in args.names or known:
                        shot = known[name]
                        # One server per set of options, started when first needed.
                        server = workspace.server(
                            plugins=["cookieconsent"], options={**OPTIONS, **shot.options},
                            threads=4,
                        )  # fmt: skip
                        target = shoot(browser, server.url, shot, args.out)
                        print(f"  {target}", flush=True)
                finally:
                    browser.close()
    except KeyboardInterrupt:
        print("\nInterrupted: CKAN, PostgreSQL and chromium are stopped.", file=sys.stderr)
        return 130
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
