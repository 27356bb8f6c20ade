"""Validation of the actions' parameters: unknown names and values are refused."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.i18n import get_locales_from_config
from ckan.types import DataDict, ErrorDict

from ckanext.cookieconsent import catalogue, consent, records


def validate(data_dict: DataDict, schema: dict[str, list[Any]]) -> DataDict:
    """Validated parameters, or CKAN's ValidationError (HTTP 409) saying what is expected."""
    if not data_dict and _all_optional(schema):
        return {}  # the usual call: nothing to check (and navl_validate is not free)
    unknown = sorted(set(data_dict) - set(schema))
    errors: ErrorDict = {
        key: [f"Unknown parameter. Expected one of: {', '.join(sorted(schema))}."]
        for key in unknown
    }
    data, field_errors = tk.navl_validate(
        {k: v for k, v in data_dict.items() if k in schema}, schema
    )
    errors.update({k: v for k, v in field_errors.items() if v})
    if errors:
        raise tk.ValidationError(errors)
    return data


def _all_optional(schema: dict[str, list[Any]]) -> bool:
    ignore_missing = tk.get_validator("ignore_missing")
    return all(validators and validators[0] is ignore_missing for validators in schema.values())


def _one_of(choices: list[str], label: str) -> Any:
    def validator(value: Any) -> Any:
        if value not in choices:
            raise tk.Invalid(f"Unknown {label} {value!r}. Expected one of: {', '.join(choices)}.")
        return value

    return validator


def _known_category(value: Any) -> Any:
    ids = [c.id for c in catalogue.current().categories]
    return _one_of(ids, "category")(value)


def _offered_language(value: Any) -> Any:
    return _one_of(sorted(get_locales_from_config()), "language")(value)


def _lang() -> list[Any]:
    return [tk.get_validator("ignore_missing"), _offered_language]


def cookie_list() -> dict[str, list[Any]]:
    ignore_missing = tk.get_validator("ignore_missing")
    return {
        "category": [ignore_missing, _known_category],
        "party": [ignore_missing, _one_of(list(catalogue.PARTIES), "party")],
        "lang": _lang(),
    }


def category_list() -> dict[str, list[Any]]:
    return {"lang": _lang()}


def policy_show() -> dict[str, list[Any]]:
    return {"lang": _lang()}


def _day(value: Any) -> Any:
    """A date YYYY-MM-DD, exactly: no other ISO form, no number, no trailing newline."""
    try:
        records.parse_day(value)
    except ValueError as error:
        raise tk.Invalid(f"Expected a date as YYYY-MM-DD, not {value!r}.") from error
    return value


def _consent_id(value: Any) -> Any:
    # fullmatch: `$` in the pattern would let a trailing newline through.
    if not isinstance(value, str) or not consent.CONSENT_ID_PATTERN.fullmatch(value):
        raise tk.Invalid("Expected a consent id: 16 letters, digits, - or _.")
    return value


def record_show() -> dict[str, list[Any]]:
    return {"consent_id": [tk.get_validator("not_empty"), _consent_id]}


def stats() -> dict[str, list[Any]]:
    ignore_missing = tk.get_validator("ignore_missing")
    return {"since": [ignore_missing, _day], "until": [ignore_missing, _day]}
