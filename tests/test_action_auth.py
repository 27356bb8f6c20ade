"""A portal can override who may read the catalogue, through IAuthFunctions."""

from __future__ import annotations

from typing import Any

import ckan.plugins as p
import ckan.plugins.toolkit as tk
import pytest


class _ClosedCataloguePlugin(p.SingletonPlugin):
    """A portal that keeps its catalogue for signed-in users."""

    p.implements(p.IAuthFunctions)

    def get_auth_functions(self) -> dict[str, Any]:
        @tk.chained_auth_function
        def signed_in_only(next_auth: Any, context: Any, data_dict: Any) -> dict[str, Any]:
            if not context.get("user"):
                return {"success": False, "msg": "Sign in to read the cookie list"}
            return next_auth(context, data_dict)

        return {"cookieconsent_cookie_list": signed_in_only}


@pytest.mark.ckan_config("ckan.plugins", "cookieconsent closed_catalogue")
def test_a_portal_can_override_the_auth(app_with_test_plugin: Any) -> None:
    api = "/api/3/action/"
    denied = app_with_test_plugin.get(api + "cookieconsent_cookie_list", status=403).json
    assert denied["error"]["message"] == "Access denied: Sign in to read the cookie list"
    allowed = app_with_test_plugin.get(api + "cookieconsent_category_list", status=200).json
    assert allowed["success"] is True


@pytest.fixture
def app_with_test_plugin(register_plugin: Any, make_app: Any) -> Any:
    register_plugin("closed_catalogue", _ClosedCataloguePlugin)
    p.load_all()
    yield make_app()
    p.unload_all()
