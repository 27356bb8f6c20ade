"""Who may do what: everyone reads the cookie catalogue; only sysadmins read and purge
the consent records (sysadmins pass every auth function, so these say no to everyone else).

A portal that wants otherwise overrides these names through IAuthFunctions
(with @toolkit.chained_auth_function).
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


def cookieconsent_record_show(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": False, "msg": tk._("Only sysadmins can read consent records.")}


def cookieconsent_stats(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": False, "msg": tk._("Only sysadmins can read consent statistics.")}


def cookieconsent_record_purge(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": False, "msg": tk._("Only sysadmins can delete consent records.")}


def cookieconsent_undeclared_cookie_list(
    context: Context, data_dict: DataDict | None
) -> AuthResult:
    return {"success": False, "msg": tk._("Only sysadmins can read consent statistics.")}


def cookieconsent_receipt_verify(context: Context, data_dict: DataDict | None) -> AuthResult:
    return {"success": False, "msg": tk._("Only sysadmins can read consent records.")}
