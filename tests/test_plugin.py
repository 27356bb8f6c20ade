"""The plugin loads into CKAN and declares itself."""

from __future__ import annotations

import ckan.plugins as p
import pytest


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
def test_plugin_is_loaded() -> None:
    assert p.plugin_loaded("cookieconsent")


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
def test_status_show_lists_the_extension(app) -> None:
    body = app.get("/api/3/action/status_show").json
    assert "cookieconsent" in body["result"]["extensions"]


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
def test_config_declaration_is_printed_by_ckan(cli) -> None:
    from ckan.cli.cli import ckan

    result = cli.invoke(ckan, ["config", "declaration", "cookieconsent"])
    assert result.exit_code == 0, result.output
    assert "ckanext.cookieconsent.catalogue" in result.output
    assert "ckanext.cookieconsent.cookie_name = cookies_preferences" in result.output


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent")
@pytest.mark.usefixtures("with_plugins")
def test_stock_portal_needs_no_banner(app) -> None:
    """Stock CKAN sets only strictly necessary cookies: nothing to consent to, no banner,
    but the policy page and the footer link are there."""
    body = app.get("/about").body
    assert 'id="cookieconsent-banner"' not in body
    assert '<a href="/cookies" data-cookieconsent-open>Cookies</a>' in body
