"""`/.well-known/gpc.json`, the Global Privacy Control support resource."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import EXAMPLE

pytestmark = [
    pytest.mark.ckan_config("ckan.plugins", "cookieconsent"),
    pytest.mark.usefixtures("with_plugins"),
]


@pytest.mark.ckan_config("ckanext.cookieconsent.catalogue", EXAMPLE)
def test_the_portal_declares_that_it_honours_gpc(app: Any) -> None:
    response = app.get("/.well-known/gpc.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    # The example catalogue says `updated: 2026-11-29`.
    assert response.json == {"gpc": True, "lastUpdate": "2026-11-29"}


@pytest.mark.ckan_config("ckanext.cookieconsent.honor_gpc", False)
def test_a_portal_that_ignores_gpc_does_not_claim_it(app: Any) -> None:
    assert app.get("/.well-known/gpc.json", status=404).status_code == 404
