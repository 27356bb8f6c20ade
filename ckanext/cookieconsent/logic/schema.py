"""The actions' parameters: CKAN schemas (validators and converters), unknown names refused.

Dates become datetimes here, once: `since` the start of its day, `until` the start of the
next day (both days included, UTC), purge's `older_than` the instant before which records go.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ckan.plugins.toolkit as tk
from ckan.lib.i18n import get_ckan_i18n_dir, get_locales_from_config
from ckan.types import (
    Context,
    DataDict,
    ErrorDict,
    FlattenDataDict,
    FlattenErrorDict,
    FlattenKey,
    Schema,
    Validator,
    ValidatorFactory,
)

from ckanext.cookieconsent import catalogue, config, consent, records


def validate(data_dict: DataDict, schema: Schema, context: Context | None = None) -> DataDict:
    """Validated (and converted) parameters, or CKAN's ValidationError (HTTP 409 through
    the API) naming each faulty parameter and saying what is expected."""
    if not data_dict and _all_optional(schema):
        return {}  # the usual call: nothing to check (and navl_validate is not free)
    names = sorted(k for k in schema if not k.startswith("__"))
    errors: ErrorDict = {
        key: [f"Unknown parameter. Expected one of: {', '.join(names)}."]
        for key in sorted(set(data_dict) - set(names))
    }
    data, field_errors = tk.navl_validate(
        {k: v for k, v in data_dict.items() if k in names}, schema, context
    )
    errors.update({k: v for k, v in field_errors.items() if v})
    if errors:
        raise tk.ValidationError(errors)
    return data


def _all_optional(schema: Schema) -> bool:
    ignore_missing = tk.get_validator("ignore_missing")
    return all(
        validators and validators[0] is ignore_missing  # type: ignore[index]
        for key, validators in schema.items()
        if not key.startswith("__")
    ) and not any(key.startswith("__") for key in schema)


# --- Validators -------------------------------------------------------------------------


def _one_of(choices: list[str], label: str) -> Callable[[Any], Any]:
    def validator(value: Any) -> Any:
        if value not in choices:
            raise tk.Invalid(f"Unknown {label} {value!r}. Expected one of: {', '.join(choices)}.")
        return value

    return validator


def known_category(value: Any) -> Any:
    ids = [c.id for c in catalogue.current().categories]
    return _one_of(ids, "category")(value)


def offered_language(value: Any) -> Any:
    """Any language CKAN ships or the portal offers, not only `ckan.locales_offered`: API
    clients may read the policy in a language the portal's pages do not offer."""
    return _one_of(_known_languages(), "language")(value)


@functools.lru_cache(maxsize=1)
def _known_languages() -> list[str]:
    shipped = {p.name for p in Path(get_ckan_i18n_dir()).iterdir() if p.is_dir()}
    return sorted({"en", *get_locales_from_config(), *(x for x in shipped if x[0] != "_")})


def consent_id(value: Any) -> Any:
    """A consent id, exactly (fullmatch: a trailing newline is refused)."""
    if not consent.is_consent_id(value):
        raise tk.Invalid("Expected a consent id: 16 letters, digits, - or _.")
    return value


def _day(value: Any, *, end: bool) -> datetime.datetime:
    try:
        return records.parse_day(value, end=end)
    except ValueError as error:
        raise tk.Invalid(f"Expected a date as YYYY-MM-DD, not {value!r}.") from error


def day_start(value: Any) -> datetime.datetime:
    """Converter: a date YYYY-MM-DD, exactly (no other ISO form, no number, no trailing
    newline), to the start of that day in UTC."""
    return _day(value, end=False)


def day_end(value: Any) -> datetime.datetime:
    """Converter: a date YYYY-MM-DD to the start of the next day in UTC, so that the day is
    included whole (9999-12-31: its last microsecond)."""
    return _day(value, end=True)


INVERTED_PERIOD = "The first day (since, {since}) is after the last day (until, {until})."


def period_in_order(
    key: FlattenKey, data: FlattenDataDict, errors: FlattenErrorDict, context: Context
) -> None:
    """`since` not after `until`: an empty period is a mistake worth saying, not a question
    to answer with nothing (since == until is one whole day)."""
    since, until = data.get(("since",)), data.get(("until",))
    if not (isinstance(since, datetime.datetime) and isinstance(until, datetime.datetime)):
        return
    if since >= until:
        last_day = (until - datetime.timedelta(microseconds=1)).date()
        errors.setdefault(("since",), []).append(
            INVERTED_PERIOD.format(since=since.date().isoformat(), until=last_day.isoformat())
        )


def is_inverted_period(error: tk.ValidationError) -> bool:
    """Whether a ValidationError of `period()` says that since is after until."""
    start = INVERTED_PERIOD.split("{", 1)[0]
    messages = error.error_dict.get("since")
    return isinstance(messages, list) and any(str(m).startswith(start) for m in messages)


_DAYS = re.compile(r"[0-9]+")  # ASCII digits only: str.isdigit() also accepts "²"
_BEFORE_ANY_RECORD = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def purge_cut_off(value: Any) -> datetime.datetime:
    """Converter of purge's `older_than` (a number of days, or a date YYYY-MM-DD; missing:
    ckanext.cookieconsent.retention_days) to the instant before which records go.

    Refused: anything else, a date in the future, and a cut-off that would delete the proof
    of choices still in force (younger than cookie_max_age)."""
    if value is tk.missing or value is None:
        value = str(config.retention_days())  # check_retention() held at start-up
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    now = records.now()
    if isinstance(value, str) and _DAYS.fullmatch(value):
        digits = value.lstrip("0") or "0"
        try:  # more days than since year 1: older than any record there can be
            limit = now - datetime.timedelta(days=int(digits)) if len(digits) < 10 else None
        except OverflowError:
            limit = None
        limit = limit or _BEFORE_ANY_RECORD
    else:
        unreadable = f"expected a number of days or a date YYYY-MM-DD, not {value!r}."
        if not isinstance(value, str):
            raise tk.Invalid(unreadable)
        try:
            limit = records.parse_day(value)
        except ValueError as error:
            raise tk.Invalid(unreadable) from error
    if limit > now:
        raise tk.Invalid(
            f"{value} is in the future: it would delete every record, "
            "the proof of choices still in force included."
        )
    max_age = config.cookie_max_age()
    newest = now - datetime.timedelta(seconds=max_age)
    if limit > newest:
        raise tk.Invalid(
            f"{value} would delete records younger than "
            f"ckanext.cookieconsent.cookie_max_age ({max_age} seconds, "
            f"{config.min_retention_days()} days): the proof of a choice must be kept as long "
            f"as the choice. Give at least {config.min_retention_days()} days, or a date on "
            f"or before {newest.date().isoformat()}."
        )
    return limit


# --- Schemas ----------------------------------------------------------------------------


@tk.validator_args
def cookie_list(ignore_missing: Validator) -> Schema:
    return {
        "category": [ignore_missing, known_category],
        "party": [ignore_missing, _one_of(list(catalogue.PARTIES), "party")],
        "lang": [ignore_missing, offered_language],
    }


@tk.validator_args
def category_list(ignore_missing: Validator) -> Schema:
    return {"lang": [ignore_missing, offered_language]}


@tk.validator_args
def policy_show(ignore_missing: Validator) -> Schema:
    return {"lang": [ignore_missing, offered_language]}


@tk.validator_args
def record_show(not_empty: Validator) -> Schema:
    return {"consent_id": [not_empty, consent_id]}


@tk.validator_args
def period(ignore_missing: Validator) -> Schema:
    """`since` and `until`, days included, to datetimes (stats, the CSV export)."""
    return {
        "since": [ignore_missing, day_start],
        "until": [ignore_missing, day_end],
        "__after": [period_in_order],
    }


stats = period


@tk.validator_args
def record_purge(default: ValidatorFactory, boolean_validator: Validator) -> Schema:
    return {
        "older_than": [purge_cut_off],
        "dry_run": [default(False), boolean_validator],
    }
