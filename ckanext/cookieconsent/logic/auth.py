"""Who may read the cookie catalogue: everyone, visitors included.

A portal that wants otherwise overrides these names through IAuthFunctions.
"""

from __future__ import annotations

import ckan.plugins.toolkit as tk
from ckan.types import AuthResult, Context, DataDict


@tk.auth_allow_anonymous_access
def cookieconsent_cookie_list(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def cookieconsent_category_list(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": True}


@tk.auth_allow_anonymous_access
def cookieconsent_policy_show(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": True}
