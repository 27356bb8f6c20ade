"""Small probes of a page in the browser, shared by the browser tests."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page


def mark_document(page: Page) -> None:
    """Leave a mark in the current document; a reload or a navigation loses it."""
    page.evaluate("() => { window.__marker = 1; }")


def marker(page: Page) -> Any:
    return page.evaluate("() => window.__marker")


def allowed(page: Page, category: str) -> bool:
    return page.evaluate("(id) => window.ckanCookieConsent.allowed(id)", category) is True
