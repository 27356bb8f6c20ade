"""Benchmark `paint`: does the banner move the page, and when is it on screen?

Headless chromium (Debian's, `/usr/bin/chromium`, driven by Playwright) loads `/about` of a
CKAN server with the extension (example catalogue: the banner shows) and of one without
it, in pairs, each load in a fresh browser context (no cookie, no cache: a first visit),
1280x800. A script added before any of the page's own (`add_init_script`) records:

- every `layout-shift` entry (PerformanceObserver, buffered), with its sources and
  whether each lies in the banner; CLS here is the sum of the shifts not caused by input;
- `first-contentful-paint` and `largest-contentful-paint` (and whether the LCP element is
  in the banner);
- when the banner is painted: its text elements (title, text, buttons) get an
  `elementtiming` attribute from a MutationObserver as the parser inserts them, before
  the first paint, and the Element Timing API gives their render times; "banner painted"
  is the latest of them (all its text on screen). Cross-check: the timestamp of the first
  animation frame in which the banner has a non-empty box inside the viewport
  (`requestAnimationFrame` polling), which comes before the paint when the first paint
  is held back by render-blocking stylesheets.

Judged (checks): no layout shift has a source in the banner (the CLS attributable to it:
target 0), and no element shifts in most loads with the extension and in none without it
(a banner shown late would push the page down, every time). The page's own shifts (CKAN's
header, as web fonts and scripts arrive) come and go from load to load on both servers;
their CLS is reported, not compared. Reported: medians of FCP with and without the
extension (ratio, paired), of banner painted - FCP, and of LCP.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench_pages import CATALOGUE, disabled_server, enabled_server
from ckan_server import Workspace
from measure import Settings
from report import Check, Result, Table

KEY = "paint"
PAGE = "/about"
LOADS = 15  # pairs (one load with the extension, one without); `--rounds N`: N pairs
VIEWPORT = {"width": 1280, "height": 800}
SETTLE_MS = 500  # after the load event, before reading the figures
LOAD_TIMEOUT_MS = 30_000
THREADS = 4  # waitress's default: a browser fetches a page's files in parallel
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]

# Runs before the page's own scripts, in every document of the context.
OBSERVER = """
(() => {
  const m = (window.__paint = {
    shifts: [], fcp: null, lcp: null, lcpInBanner: null, elements: [], frame: null,
    supported: PerformanceObserver.supportedEntryTypes,
  });
  const banner = () => document.getElementById("cookieconsent-banner");
  const inBanner = (node) => {
    const b = banner();
    return !!(b && node && (node === b || b.contains(node)));
  };
  const describe = (node) => !node ? "(removed)" : node.nodeType !== 1 ? node.nodeName
    : node.tagName.toLowerCase() + (node.id ? "#" + node.id : "")
      + (node.classList.length ? "." + [...node.classList].join(".") : "");
  const observe = (type, callback) => {
    try { new PerformanceObserver((list) => list.getEntries().forEach(callback))
            .observe({ type, buffered: true }); } catch (error) {}
  };
  observe("layout-shift", (e) => m.shifts.push({
    value: e.value, hadRecentInput: e.hadRecentInput, startTime: e.startTime,
    sources: (e.sources || []).map((s) => ({ node: describe(s.node), inBanner: inBanner(s.node) })),
  }));
  observe("paint", (e) => { if (e.name === "first-contentful-paint") m.fcp = e.startTime; });
  observe("largest-contentful-paint", (e) => {
    m.lcp = e.startTime; m.lcpInBanner = inBanner(e.element); m.lcpElement = describe(e.element);
  });
  observe("element", (e) => {
    if (e.identifier.startsWith("cookieconsent-")) {
      m.elements.push({ id: e.identifier, renderTime: e.renderTime || e.loadTime });
    }
  });
  // Mark the banner's text elements as the parser inserts them, before they are painted.
  let marked = 0;
  new MutationObserver(() => {
    const b = banner();
    if (!b) return;
    b.querySelectorAll(".cookieconsent-banner__title, .cookieconsent-banner__text, "
                       + ".cookieconsent-actions .cookieconsent-button")
      .forEach((element) => {
        if (!element.hasAttribute("elementtiming")) {
          element.setAttribute("elementtiming", "cookieconsent-" + marked++);
        }
      });
    m.marked = marked;
  }).observe(document, { childList: true, subtree: true });
  const poll = (timestamp) => {
    const b = banner();
    if (b) {
      const box = b.getBoundingClientRect();
      const style = getComputedStyle(b);
      if (box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < innerHeight
          && style.display !== "none" && style.visibility !== "hidden") {
        m.frame = timestamp;
        return;
      }
    }
    if (performance.now() < 20000) requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
})();
"""


def run(workspace: Workspace, settings: Settings, progress: Callable[[str], None]) -> Result:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (make browser)")
    from playwright.sync_api import sync_playwright

    on = enabled_server(workspace, threads=THREADS)
    off = disabled_server(workspace, threads=THREADS)
    progress(f"servers up ({THREADS} threads each): extension enabled, extension disabled")
    pairs = LOADS if settings.rounds == Settings().rounds else settings.rounds
    loads: dict[str, list[dict[str, Any]]] = {"enabled": [], "disabled": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for server in (on, off):
                _load(browser, server.url + PAGE)  # warm-up: templates, webassets built
            for i in range(pairs):
                order = ("enabled", "disabled") if i % 2 == 0 else ("disabled", "enabled")
                for label in order:
                    url = (on if label == "enabled" else off).url + PAGE
                    loads[label].append(_load(browser, url))
                progress(
                    f"pair {i + 1}/{pairs}: FCP enabled {loads['enabled'][-1]['fcp']:.0f} ms, "
                    f"disabled {loads['disabled'][-1]['fcp']:.0f} ms"
                )
        finally:
            browser.close()
    return _result(loads)


def _load(browser: Any, url: str) -> dict[str, Any]:
    context = browser.new_context(viewport=VIEWPORT, locale="en-GB")
    try:
        context.set_default_timeout(LOAD_TIMEOUT_MS)
        context.add_init_script(OBSERVER)
        page = context.new_page()
        response = page.goto(url, wait_until="load")
        if response is None or response.status != 200:
            raise RuntimeError(f"GET {url}: {response.status if response else 'no answer'}")
        page.wait_for_timeout(SETTLE_MS)
        figures = page.evaluate("() => window.__paint")
        figures["banner"] = page.locator("#cookieconsent-banner").count() > 0
        figures["ttfb"], figures["blocking"] = page.evaluate(
            """() => [performance.getEntriesByType("navigation")[0].responseStart,
                      performance.getEntriesByType("resource")
                        .filter((r) => r.renderBlockingStatus === "blocking")
                        .map((r) => new URL(r.name).pathname)]"""
        )
        return figures
    finally:
        context.close()


def _banner_painted(load: dict[str, Any]) -> float | None:
    times = [e["renderTime"] for e in load["elements"] if e["renderTime"]]
    if not times or len(times) < load.get("marked", 0):
        return None
    return max(times)


def _cls(load: dict[str, Any]) -> float:
    return sum(s["value"] for s in load["shifts"] if not s["hadRecentInput"])


def _median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if len(present) == len(values) and present else None


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} ms"


def _result(loads: dict[str, list[dict[str, Any]]]) -> Result:
    on, off = loads["enabled"], loads["disabled"]
    fcp_on = [load["fcp"] for load in on]
    fcp_off = [load["fcp"] for load in off]
    painted = [_banner_painted(load) for load in on]
    frames = [load["frame"] for load in on]
    fcp_ratios = [a / b for a, b in zip(fcp_on, fcp_off, strict=True)]
    after_fcp = [p - f if p is not None else None for p, f in zip(painted, fcp_on, strict=True)]
    frame_after_fcp = [
        t - f if t is not None else None for t, f in zip(frames, fcp_on, strict=True)
    ]
    cls_on, cls_off = [_cls(load) for load in on], [_cls(load) for load in off]
    banner_shifts = [
        (s["value"], [src["node"] for src in s["sources"] if src["inBanner"]])
        for load in on
        for s in load["shifts"]
        if any(src["inBanner"] for src in s["sources"])
    ]
    # Elements that shift in most loads with the extension and in none without it: what a
    # banner shown late would push down, every time. CKAN's own header shifts now and then
    # on both servers (web fonts, its scripts), which a plain set difference would catch.
    shifted_on = Counter(
        node
        for load in on
        for node in {src["node"] for s in load["shifts"] for src in s["sources"]}
    )
    shifted_off = {src["node"] for load in off for s in load["shifts"] for src in s["sources"]}
    only_on = sorted(n for n, c in shifted_on.items() if c > len(on) / 2 and n not in shifted_off)
    all_sources = sorted(
        {src["node"] for load in (*on, *off) for s in load["shifts"] for src in s["sources"]}
    )
    lcp_in_banner = sum(1 for load in on if load["lcpInBanner"])
    lcp_elements = sorted({load.get("lcpElement") or "?" for load in on})

    def row(label: str, values: list[float | None]) -> list[str]:
        present = [v for v in values if v is not None]
        spread = f"{min(present):.0f} to {max(present):.0f} ms" if present else "n/a"
        return [label, _ms(_median(values)), spread, f"{len(present)}/{len(values)}"]

    ttfb_on = [load["ttfb"] for load in on]
    ttfb_off = [load["ttfb"] for load in off]
    rows = [
        row("HTML first byte (responseStart), extension enabled", ttfb_on),
        row("HTML first byte (responseStart), extension disabled", ttfb_off),
        row("FCP, extension enabled", fcp_on),
        row("FCP, extension disabled", fcp_off),
        row("FCP - first byte, enabled", [f - t for f, t in zip(fcp_on, ttfb_on, strict=True)]),
        row("FCP - first byte, disabled", [f - t for f, t in zip(fcp_off, ttfb_off, strict=True)]),
        row("banner painted (Element Timing, all its text)", painted),
        row("banner in a frame (rAF timestamp)", frames),
        row("banner painted - FCP, same load", after_fcp),
        row("banner frame - FCP, same load", frame_after_fcp),
        row("LCP, extension enabled", [load["lcp"] for load in on]),
        row("LCP, extension disabled", [load["lcp"] for load in off]),
    ]
    fcp_ratio = statistics.median(fcp_ratios)
    painted_median, fcp_median = _median(painted), _median(fcp_on)
    cls_banner = [
        sum(
            s["value"]
            for s in load["shifts"]
            if not s["hadRecentInput"] and any(src["inBanner"] for src in s["sources"])
        )
        for load in on
    ]
    cls_rows = [
        [
            "attributable to the banner (shifts with a source in it)",
            f"{statistics.median(cls_banner):.4f}",
            f"{max(cls_banner):.4f}",
        ],
        ["whole page, extension enabled", f"{statistics.median(cls_on):.4f}", f"{max(cls_on):.4f}"],
        [
            "whole page, extension disabled",
            f"{statistics.median(cls_off):.4f}",
            f"{max(cls_off):.4f}",
        ],
    ]
    browser_side = [
        (a - ta) / (b - tb)
        for a, ta, b, tb in zip(fcp_on, ttfb_on, fcp_off, ttfb_off, strict=True)
        if b > tb
    ]
    blocking_on = sorted({path for load in on for path in load["blocking"]})
    blocking_off = sorted({path for load in off for path in load["blocking"]})
    notes = [
        f"{len(on)} pairs of loads, alternating which goes first; FCP ratio: median of the "
        f"per-pair ratios (range {min(fcp_ratios):.3f} to {max(fcp_ratios):.3f}). The same "
        "ratio of FCP - first byte (the browser's part, without the server's time to "
        f"answer): {statistics.median(browser_side):.3f}.",
        f"Render-blocking requests: {len(blocking_on)} with the extension "
        f"({', '.join(f'`{b}`' for b in blocking_on)}), {len(blocking_off)} without "
        f"({', '.join(f'`{b}`' for b in blocking_off)}). Servers: waitress with {THREADS} "
        "application threads each, static files served by CKAN.",
        "Banner painted / FCP, medians: "
        + (
            f"{painted_median / fcp_median:.3f}"
            if painted_median is not None and fcp_median
            else "n/a (Element Timing gave no time for some load)"
        )
        + ". Element Timing's render time and FCP come from the same paint timeline, and "
        "are the figures to read. The rAF row is only a cross-check: chromium runs "
        "animation frames while the first paint is still held back (render-blocking "
        "stylesheets), so its timestamp says when the banner had a box in the layout, "
        "before it could be painted.",
        f"LCP element in the banner in {lcp_in_banner} of {len(on)} loads with the extension "
        f"(LCP elements seen: {', '.join(f'`{e}`' for e in lcp_elements)}).",
        "Layout shifts seen, sources: "
        + (", ".join(f"`{s}`" for s in all_sources) if all_sources else "none")
        + ".",
    ]
    return Result(
        key=KEY,
        title="Paint: layout shift and time to the banner on /about, in headless chromium",
        compared=(
            f"`{PAGE}` loaded by headless chromium (Debian's, via Playwright), "
            f"{VIEWPORT['width']}x{VIEWPORT['height']}, each load in a fresh context (no "
            "cookie, no cache), from a CKAN server with the extension (catalogue "
            f"`{CATALOGUE}`: the banner shows, at its default position, `top`) and from one "
            "without it (`ckan.plugins =`), same database, in alternating pairs. Figures "
            "from PerformanceObserver (`paint`, `largest-contentful-paint`, `layout-shift`, "
            "`element`) registered by an init script before the page's own scripts; read "
            f"{SETTLE_MS} ms after the load event."
        ),
        columns=["", "median", "range", "loads with a value"],
        rows=rows,
        ratio_name="FCP enabled / disabled (paired)",
        ratio=fcp_ratio,
        target=None,
        notes=notes,
        tables=[
            Table(
                "Cumulative layout shift (sum of shifts without input)",
                ["", "median", "max"],
                cls_rows,
            )
        ],
        checks=[
            Check(
                "no layout shift has a source in the banner"
                + (f" (seen: {banner_shifts[:3]})" if banner_shifts else ""),
                not banner_shifts,
            ),
            Check(
                "no element shifts in most loads with the extension and in none without "
                "it (what a banner shown late would push down)"
                + (f": {', '.join(f'`{n}`' for n in only_on)}" if only_on else ""),
                not only_on,
            ),
            Check(
                "the banner is in every page with the extension, in none without it",
                all(load["banner"] for load in on) and not any(load["banner"] for load in off),
            ),
        ],
    )
