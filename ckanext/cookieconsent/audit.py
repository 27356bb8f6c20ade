"""The audit: the portal as a real browser sees it, against its cookie catalogue.

Headless Chromium (driven by Playwright, the optional extra `[audit]`) visits the given
pages in four passes, each in a fresh browser profile:

- `no_choice`: a first visit;
- `reject_all`: *Reject all* clicked in the banner on the first page, then every page;
- `accept_all`: *Accept all* clicked likewise;
- `gpc`: a browser sending Global Privacy Control (`Sec-GPC: 1`,
  `navigator.globalPrivacyControl`), nothing clicked.

After each page it reads the browser's cookies (every site's), the page's and its frames'
localStorage and sessionStorage keys, and every request the page made. Findings:

- violations (any makes the command's exit code 1): a cookie or storage key the
  catalogue does not declare; a cookie that needs consent before any choice, or of a
  refused category after *Reject all* or under GPC; a cookie living longer than declared;
  a request to another site before consent, after refusal or under GPC; no banner on a
  first visit when the catalogue asks for consent; *Reject all* missing from the banner's
  first layer, hidden, or less prominent than *Accept all* (smaller, smaller or lighter
  type); a page that fails to load;
- reported besides: the other sites contacted after *Accept all*, and the two buttons'
  measured sizes and styles.

Storage keys are held to the catalogue like cookies (ePrivacy art. 5(3) covers both).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from ckanext.cookieconsent import catalogue

Pass = Literal["no_choice", "reject_all", "accept_all", "gpc"]
PASSES: tuple[Pass, ...] = ("no_choice", "reject_all", "accept_all", "gpc")
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
BANNER = "#cookieconsent-banner"
BUTTON = BANNER + ' button[name="action"][value="{action}"]'
# A cookie's expiry is set when it is written, a little before it is read: the slack.
LIFETIME_SLACK_SECONDS = 120
# Two buttons "of the same prominence": sizes within this share of each other.
SIZE_TOLERANCE = 0.15
_GPC_SCRIPT = (
    "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl',"
    " {get: () => true, configurable: true});"
)
_STORAGE_SCRIPT = """() => {
  const keys = (store) => { try { return Object.keys(store); } catch (e) { return []; } };
  return {local: keys(window.localStorage), session: keys(window.sessionStorage)};
}"""
_STYLE_SCRIPT = """(button) => {
  const box = button.getBoundingClientRect();
  const style = getComputedStyle(button);
  const visible = box.width > 0 && box.height > 0 && style.visibility !== 'hidden'
    && style.display !== 'none' && Number(style.opacity) > 0.1;
  const inViewport = box.bottom > 0 && box.right > 0
    && box.top < window.innerHeight && box.left < window.innerWidth;
  return {visible, in_viewport: inViewport, width: box.width, height: box.height,
    font_size: parseFloat(style.fontSize), font_weight: Number(style.fontWeight) || 400,
    color: style.color, background: style.backgroundColor, text: button.innerText.trim()};
}"""


class AuditError(Exception):
    """The audit could not run (no Playwright, no Chromium, the portal unreachable)."""


@dataclass
class Finding:
    pass_: str
    kind: str
    subject: str
    detail: str
    url: str = ""


@dataclass
class Report:
    portal: str
    revision: str
    urls: list[str]
    passes: list[str]
    findings: list[Finding] = field(default_factory=list)
    third_party_after_consent: list[str] = field(default_factory=list)
    buttons: dict[str, Any] = field(default_factory=dict)

    skipped: dict[str, str] = field(default_factory=dict)  # pass: why

    def as_dict(self) -> dict[str, Any]:
        findings = [{**asdict(f), "pass": f.pass_} for f in self.findings]
        for finding in findings:
            del finding["pass_"]
        return {
            "portal": self.portal,
            "revision": self.revision,
            "urls": self.urls,
            "passes": self.passes,
            "verdict": "violation" if self.findings else "no violation",
            "violations": len(self.findings),
            "findings": findings,
            "skipped": self.skipped,
            "third_party_after_consent": self.third_party_after_consent,
            "buttons": self.buttons,
        }


def run(
    portal: catalogue.Catalogue,
    urls: list[str],
    *,
    chromium: str = DEFAULT_CHROMIUM,
    gpc_honoured: bool = True,
    settle_ms: int = 1500,
    timeout_ms: int = 15000,
) -> Report:
    """Audit `urls` (the first one is where the banner is answered) against `portal`."""
    if not urls:
        raise AuditError("no page to audit")
    origin = _origin(urls[0])
    report = Report(origin, portal.revision, list(urls), list(PASSES))
    if not gpc_honoured:
        report.skipped["gpc"] = "the portal does not honour it (ckanext.cookieconsent.honor_gpc)"
    with _chromium(chromium) as browser:
        for pass_ in PASSES:
            if pass_ not in report.skipped:
                _Pass(pass_, portal, origin, report, settle_ms, timeout_ms).run(browser, urls)
    report.third_party_after_consent = sorted(set(report.third_party_after_consent))
    return report


@contextmanager
def _chromium(executable: str) -> Iterator[Any]:
    try:
        from playwright.sync_api import Error, sync_playwright
    except ImportError as error:
        raise AuditError(
            "the audit needs Playwright: pip install 'ckanext-cookieconsent[audit]'"
        ) from error
    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except Error as error:
            first = str(error).strip().splitlines()[0]
            raise AuditError(f"could not start Chromium at {executable}: {first}") from error
        try:
            yield browser
        finally:
            browser.close()


class _Pass:
    def __init__(
        self,
        name: Pass,
        portal: catalogue.Catalogue,
        origin: str,
        report: Report,
        settle_ms: int,
        timeout_ms: int,
    ) -> None:
        self.name = name
        self.portal = portal
        self.origin = origin
        self.report = report
        self.settle_ms = settle_ms
        self.timeout_ms = timeout_ms
        self.seen: set[tuple[str, str, str]] = set()  # see _find
        self.answered = False  # the banner was answered (reject_all, accept_all)

    def run(self, browser: Any, urls: list[str]) -> None:
        options: dict[str, Any] = {"locale": "en-GB", "viewport": {"width": 1280, "height": 800}}
        if self.name == "gpc":
            options["extra_http_headers"] = {"Sec-GPC": "1"}
        context = browser.new_context(**options)
        context.set_default_timeout(self.timeout_ms)
        if self.name == "gpc":
            context.add_init_script(_GPC_SCRIPT)
        page = context.new_page()
        current = {"url": ""}
        page.on("request", lambda request: self._request(request.url, current["url"]))
        try:
            for index, url in enumerate(urls):
                current["url"] = url
                if not self._visit(page, url):
                    continue
                if index == 0 and self.name == "no_choice":
                    self._check_banner(page, url)
                if index == 0 and self.name in ("reject_all", "accept_all"):
                    self._answer(page, url)
                self._check_jar(context, url)
                self._check_storage(page, url)
        finally:
            context.close()

    def _visit(self, page: Any, url: str) -> bool:
        from playwright.sync_api import Error

        try:
            response = page.goto(url, wait_until="load")
        except Error as error:
            first = str(error).strip().splitlines()[0]
            self._find("page_failed", url, f"the page did not load: {first}", url)
            return False
        if response is None or response.status >= 400:
            status = response.status if response is not None else "no response"
            self._find("page_failed", url, f"HTTP {status}", url)
            return False
        self._settle(page)
        return True

    def _settle(self, page: Any) -> None:
        """Let scripts run and load what they load (gated ones after a choice)."""
        from playwright.sync_api import Error

        # A page that keeps a connection open is judged after the wait all the same.
        with contextlib.suppress(Error):
            page.wait_for_load_state("networkidle", timeout=self.settle_ms * 4)
        page.wait_for_timeout(self.settle_ms)

    def _answer(self, page: Any, url: str) -> None:
        action = "refuse_all" if self.name == "reject_all" else "accept_all"
        button = page.locator(BUTTON.format(action=action))
        if button.count() == 0:
            self._find("no_banner", url, f"no {action} button to click in the banner", url)
            return
        self.answered = True
        button.first.click()
        page.wait_for_selector(BANNER, state="hidden")
        self._settle(page)

    def _check_banner(self, page: Any, url: str) -> None:
        if not self.portal.asks_for_consent:
            return
        if page.locator(BANNER).count() == 0 or not page.locator(BANNER).is_visible():
            self._find("no_banner", url, "no banner on a first visit", url)
            return
        styles = {}
        for action in ("accept_all", "refuse_all"):
            button = page.locator(BUTTON.format(action=action))
            styles[action] = button.first.evaluate(_STYLE_SCRIPT) if button.count() else None
        self.report.buttons = styles
        accept, refuse = styles["accept_all"], styles["refuse_all"]
        if refuse is None or not refuse["visible"] or not refuse["in_viewport"]:
            self._find(
                "refusal_not_on_first_layer",
                "refuse_all",
                "the banner's first layer shows no visible Reject all button",
                url,
            )
            return
        if accept is None:
            return
        problems = [
            f"{what} {refuse[key]:g} against {accept[key]:g}"
            for what, key in (("width", "width"), ("height", "height"))
            if refuse[key] < accept[key] * (1 - SIZE_TOLERANCE)
        ]
        for what, key in (("font size", "font_size"), ("font weight", "font_weight")):
            if refuse[key] < accept[key]:
                problems.append(f"{what} {refuse[key]:g} against {accept[key]:g}")
        if problems:
            detail = "Reject all is less prominent than Accept all: " + ", ".join(problems)
            self._find("refusal_less_prominent", "refuse_all", detail, url)

    def _check_jar(self, context: Any, url: str) -> None:
        now = time.time()
        for cookie in context.cookies():
            name, host = cookie["name"], cookie["domain"].lstrip(".")
            entry = self._entry(name)
            subject = f"{name} ({host})"
            if entry is None:
                self._find("undeclared_cookie", subject, "not in the cookie catalogue", url)
                continue
            if not self._may_exist(entry.category):
                kind = (
                    "cookie_after_refusal"
                    if self.answered or self.name == "gpc"
                    else ("cookie_before_consent")
                )
                self._find(kind, subject, f"a cookie of category {entry.category!r}", url)
            expires = cookie.get("expires", -1)
            if expires is None or expires < 0:
                continue
            declared = entry.duration.seconds
            if declared is None:
                self._find(
                    "cookie_outlives_declaration",
                    subject,
                    f"declared a session cookie, set for {round(expires - now)} s",
                    url,
                )
            elif expires - now > declared + LIFETIME_SLACK_SECONDS:
                self._find(
                    "cookie_outlives_declaration",
                    subject,
                    f"declared {declared} s, set for {round(expires - now)} s",
                    url,
                )

    def _check_storage(self, page: Any, url: str) -> None:
        from playwright.sync_api import Error

        for frame in page.frames:
            try:
                keys = frame.evaluate(_STORAGE_SCRIPT)
            except Error:
                continue  # a frame gone, or not a document
            where = _origin(frame.url) if frame.url.startswith("http") else self.origin
            for kind, names in keys.items():
                for name in names:
                    entry = self._entry(name)
                    subject = f"{name} ({kind}Storage, {where})"
                    if entry is None:
                        self._find("undeclared_storage", subject, "not in the catalogue", url)
                    elif not self._may_exist(entry.category):
                        kind_found = (
                            "storage_after_refusal"
                            if self.answered or self.name == "gpc"
                            else "storage_before_consent"
                        )
                        self._find(kind_found, subject, f"category {entry.category!r}", url)

    def _request(self, request_url: str, page_url: str) -> None:
        if not request_url.startswith(("http://", "https://")):
            return  # data:, blob:, about:
        origin = _origin(request_url)
        if origin == self.origin:
            return
        if self.name == "accept_all" and self.answered:
            self.report.third_party_after_consent.append(origin)
            return
        when = {
            "no_choice": "before consent",
            "reject_all": "after Reject all" if self.answered else "before consent",
            "accept_all": "before consent",
            "gpc": "under Global Privacy Control",
        }[self.name]
        self._find("third_party_request", origin, f"{when}: {request_url}", page_url, when)

    def _entry(self, name: str) -> catalogue.Cookie | None:
        return self.portal.entry_for(name, {c.id for c in self.portal.categories})

    def _may_exist(self, category_id: str) -> bool:
        """Whether a cookie of this category may be there in this pass."""
        category = self.portal.category(category_id)
        if category is None or category.required:
            return True
        if self.name == "accept_all" and self.answered:
            return True
        if self.name in ("no_choice", "accept_all"):
            return category.exempt  # on by default, with an opt-out
        return False  # refused, or refused by GPC

    def _find(self, kind: str, subject: str, detail: str, url: str, when: str = "") -> None:
        """One finding per kind, subject (and moment) in a pass: the first page it is on."""
        if (kind, subject, when) in self.seen:
            return
        self.seen.add((kind, subject, when))
        self.report.findings.append(Finding(self.name, kind, subject, detail, url))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def human(report: Report) -> str:
    """The report as lines for a terminal."""
    lines = [
        f"Audit of {report.portal} (policy revision {report.revision}), "
        f"{len(report.urls)} page(s), passes: {', '.join(report.passes)}",
    ]
    for pass_ in report.passes:
        if pass_ in report.skipped:
            lines.append(f"  {pass_}: skipped: {report.skipped[pass_]}")
            continue
        found = [f for f in report.findings if f.pass_ == pass_]
        lines.append(f"  {pass_}: " + (f"{len(found)} finding(s)" if found else "nothing found"))
        lines += [f"    VIOLATION {f.kind}: {f.subject}: {f.detail} [{f.url}]" for f in found]
    if report.third_party_after_consent:
        others = ", ".join(report.third_party_after_consent)
        lines.append(f"  other sites contacted after Accept all: {others}")
    count = len(report.findings)
    lines.append(f"{count} violation(s)." if count else "No violation.")
    return "\n".join(lines)
