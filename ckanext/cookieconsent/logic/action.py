"""The actions: the cookie catalogue for everyone (read-only), the consent records for
sysadmins (read, and purge)."""

from __future__ import annotations

import functools
from typing import Any, TypedDict

import ckan.plugins.toolkit as tk
from ckan.types import Context, DataDict

from ckanext.cookieconsent import catalogue, config, drift, proof, records
from ckanext.cookieconsent.logic import schema


@tk.side_effect_free
def cookieconsent_cookie_list(context: Context, data_dict: DataDict) -> list[catalogue.ApiCookie]:
    """Every cookie the portal may set, in the catalogue's order.

    :param category: only the cookies of this category id
    :param party: ``first`` or ``third``
    :param lang: language of the texts (default: the request's, else the portal's)
    """
    tk.check_access("cookieconsent_cookie_list", context, data_dict)
    params = schema.validate(data_dict, schema.cookie_list())
    cookies = _translated(catalogue.current(), _language(params))["cookies"]
    if "category" in params:
        cookies = [c for c in cookies if c["category"] == params["category"]]
    if "party" in params:
        cookies = [c for c in cookies if c["party"] == params["party"]]
    return [_copy_cookie(c) for c in cookies]


@tk.side_effect_free
def cookieconsent_category_list(
    context: Context, data_dict: DataDict
) -> list[catalogue.ApiCategory]:
    """The categories, necessary first, with how many cookies each holds.

    :param lang: language of the texts (default: the request's, else the portal's)
    """
    tk.check_access("cookieconsent_category_list", context, data_dict)
    params = schema.validate(data_dict, schema.category_list())
    return [c.copy() for c in _translated(catalogue.current(), _language(params))["categories"]]


@tk.side_effect_free
def cookieconsent_policy_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """What a visitor consents to: the revision, the categories and their cookies.

    :param lang: language of the texts (default: the request's, else the portal's)
    """
    tk.check_access("cookieconsent_policy_show", context, data_dict)
    params = schema.validate(data_dict, schema.policy_show())
    portal = catalogue.current()
    lang = _language(params)
    translated = _translated(portal, lang)
    return {
        "revision": portal.revision,
        "updated": portal.updated.isoformat() if portal.updated else None,
        "language": lang,
        "preferences_cookie": {"name": config.cookie_name(), "max_age": config.cookie_max_age()},
        "categories": [
            {
                **category,
                "cookies": [
                    _copy_cookie(c)
                    for c in translated["cookies"]
                    if c["category"] == category["id"]
                ],
            }
            for category in translated["categories"]
        ],
    }


@tk.side_effect_free
def cookieconsent_record_show(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """The history of one consent id, each record with the policy text it answered and
    the texts its visitor was shown: ``texts_sha256`` and ``texts`` (``sha256``,
    ``language``, ``banner``, ``policy``; null for records made before texts were kept).

    :param consent_id: the consent id shown on the visitor's policy page
    """
    tk.check_access("cookieconsent_record_show", context, data_dict)
    params = schema.validate(data_dict, schema.record_show(), context)
    history = records.history(params["consent_id"])
    if not history:
        raise tk.ObjectNotFound(tk._("No consent record has this id."))
    return {"consent_id": params["consent_id"], "records": history}


@tk.side_effect_free
def cookieconsent_stats(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """How visitors answer: totals, acceptance per revision, answers per category and day.

    :param since: first day (YYYY-MM-DD, UTC), included
    :param until: last day (YYYY-MM-DD, UTC), included; 9999-12-31 is as good as no end

    A ``since`` after ``until`` is a validation error (409), not an empty result.
    """
    tk.check_access("cookieconsent_stats", context, data_dict)
    params = schema.validate(data_dict, schema.stats(), context)
    return records.stats(params.get("since"), params.get("until"))


@tk.side_effect_free
def cookieconsent_undeclared_cookie_list(
    context: Context, data_dict: DataDict
) -> list[dict[str, Any]]:
    """Cookies seen but not declared in the catalogue (sysadmins only), most recently
    seen first: ``name``, ``source`` (``response``: set by the portal; ``request``: sent
    by browsers, perhaps set by another site of the domain, or forged), ``first_seen``
    and ``last_seen`` (ISO 8601, UTC, to the hour). Names only: values are never kept.
    """
    tk.check_access("cookieconsent_undeclared_cookie_list", context, data_dict)
    return drift.undeclared(catalogue.current())


@tk.side_effect_free
def cookieconsent_receipt_verify(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Check a visitor's consent receipt (from /cookies/receipt; sysadmins only): its
    signature (made with this portal's secret), and that the records hold the record it
    describes, the same (consent id, time, revision, choices, texts' hash, method, language).

    :param receipt: the receipt, as a JSON object or as its JSON text

    Returns ``{"valid": ..., "signature_valid": ..., "record_found": ..., "record_id": ...,
    "consent_id": ..., "problems": [<what failed, in words>]}``. A receipt that is not one
    (malformed JSON, a missing field or one of the wrong type) is a validation error (409).
    """
    tk.check_access("cookieconsent_receipt_verify", context, data_dict)
    unknown = sorted(set(data_dict) - {"receipt"})
    if unknown or "receipt" not in data_dict:
        raise tk.ValidationError(
            {name: ["Unknown parameter. Expected one of: receipt."] for name in unknown}
            or {"receipt": ["Missing value"]}
        )
    given = data_dict["receipt"]
    try:
        receipt = (
            proof.parse_receipt(given)
            if isinstance(given, (str, bytes))
            else proof.check_receipt(given)
        )
    except proof.MalformedReceipt as error:
        raise tk.ValidationError({"receipt": [f"Not a valid receipt: {error}"]}) from error
    return proof.verify(receipt)


def cookieconsent_record_purge(context: Context, data_dict: DataDict) -> dict[str, Any]:
    """Delete the consent records older than a cut-off (sysadmins only). Safe to repeat.

    :param older_than: a number of days, or a date YYYY-MM-DD (UTC): records made before
        it go. Default: ``ckanext.cookieconsent.retention_days``. Refused (409): a date in
        the future, or a cut-off younger than ``ckanext.cookieconsent.cookie_max_age``
        (a choice's proof lives as long as the choice)
    :param dry_run: if true, only count the records that would go (default: false)

    Returns ``{"older_than": <the cut-off, ISO 8601>, "dry_run": ..., "records": <how many
    were deleted, or would be>}``.
    """
    tk.check_access("cookieconsent_record_purge", context, data_dict)
    params = schema.validate(data_dict, schema.record_purge(), context)
    limit = params["older_than"]
    dry_run = bool(params["dry_run"])
    count = records.count_before(limit) if dry_run else records.purge(limit)
    return {"older_than": limit.isoformat(), "dry_run": dry_run, "records": count}


def _copy_cookie(cookie: catalogue.ApiCookie) -> catalogue.ApiCookie:
    """A copy the caller may change: the cached dict has one nested dict, `duration`.
    (Twice as fast as copy.deepcopy, which was half the action's time.)"""
    copy = cookie.copy()
    copy["duration"] = cookie["duration"].copy()
    return copy


def _language(params: DataDict) -> str:
    if "lang" in params:
        return params["lang"]
    try:
        request_lang = tk.h.lang()
    except RuntimeError:  # outside a request: CLI, background job
        request_lang = None
    return request_lang or tk.config.get("ckan.locale_default")


class _Translated(TypedDict):
    categories: tuple[catalogue.ApiCategory, ...]
    cookies: tuple[catalogue.ApiCookie, ...]


@functools.lru_cache(maxsize=64)
def _translated(current: catalogue.Catalogue, lang: str) -> _Translated:
    """The catalogue's texts in one language, built once per catalogue and language."""
    counts = {c.id: len(current.cookies_of(c.id)) for c in current.categories}
    return {
        "categories": tuple(
            catalogue.api_category(c, lang, counts[c.id]) for c in current.categories
        ),
        "cookies": tuple(catalogue.api_cookie(c, lang) for c in current.cookies),
    }
