"""Loading: the built-in catalogue merged with the portal's file, validated once at start-up.

The built-in file's `{placeholders}` (the names and lifetimes of CKAN's own cookies) are
filled in after the YAML is parsed, in its string values: a configured name can hold no
YAML syntax that would change the document.
"""

from __future__ import annotations

import datetime
import importlib.resources
import json
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import yaml

from ckanext.cookieconsent.catalogue import fields
from ckanext.cookieconsent.catalogue.model import Catalogue, CatalogueError, compute_revision

BUILTIN_FILE = "builtin_catalogue.yaml"
BUILTIN_SOURCE = "built-in catalogue"


def load(
    admin_file: str | None,
    builtin_values: Mapping[str, str],
    extra_cookies: Callable[[Catalogue], Iterable[Mapping[str, Any]]] | None = None,
) -> Catalogue:
    """The built-in catalogue merged with the portal's file, validated.

    `builtin_values` fills the built-in file's `{placeholders}`: the names and
    lifetimes of CKAN's own cookies follow the portal's configuration.
    `extra_cookies`, given the catalogue as declared so far, returns built-in cookie
    entries to add (an integration's cookies the portal's file does not declare).
    """
    package = importlib.resources.files("ckanext.cookieconsent")
    builtin_text = package.joinpath(BUILTIN_FILE).read_text("utf-8")
    builtin = _fill(_parse_document(builtin_text, BUILTIN_SOURCE, json_file=False), builtin_values)
    raw_categories = _as_list(builtin, "categories", BUILTIN_SOURCE)
    raw_cookies = _as_list(builtin, "cookies", BUILTIN_SOURCE)
    revision: str | None = None
    updated: datetime.date | None = None

    if admin_file:
        path, text = _read_admin_file(admin_file)
        admin = _parse_document(text, path, json_file=path.endswith(".json"))
        fields.check_keys(admin, fields.TOP_FIELDS, path, "the top level")
        raw_categories = _merge(raw_categories, _as_list(admin, "categories", path), "id", path)
        raw_cookies = _merge(raw_cookies, _as_list(admin, "cookies", path), "name", path)
        revision = fields.revision(admin.get("revision"), path)
        updated = fields.updated(admin.get("updated"), path)
        if updated is None:
            updated = datetime.date.fromtimestamp(os.path.getmtime(path))
        source = path
    else:
        source = BUILTIN_SOURCE

    categories = tuple(fields.category(raw, source) for raw in raw_categories)
    fields.check_unique((c.id for c in categories), source, "categories", "id")
    if sum(c.required for c in categories) != 1:
        raise CatalogueError(
            f"{source}: categories: exactly one category must have `required: true` "
            "(the strictly necessary cookies)."
        )
    known = {c.id for c in categories}
    cookies = tuple(fields.cookie(raw, source, known) for raw in raw_cookies)
    fields.check_unique((c.name for c in cookies), source, "cookies", "name")
    categories = tuple(sorted(categories, key=lambda c: (not c.required, c.order, c.id)))
    if extra_cookies is not None:
        declared = Catalogue(categories=categories, cookies=cookies, revision="")
        extra = extra_cookies(declared)
        cookies += tuple(fields.cookie(raw, BUILTIN_SOURCE, known) for raw in extra)
        fields.check_unique((c.name for c in cookies), source, "cookies", "name")
    return Catalogue(
        categories=categories,
        cookies=cookies,
        revision=revision or compute_revision(categories, cookies),
        updated=updated,
    )


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    """`value` (parsed YAML) with each `{key}` in its strings replaced by `values[key]`."""
    if isinstance(value, str):
        for key, replacement in values.items():
            value = value.replace("{" + key + "}", replacement)
        return value
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def _read_admin_file(spec: str) -> tuple[str, str]:
    """Read `path` or `package:path/in/package`; return (name to show, text)."""
    path = spec
    if ":" in spec and not os.path.isabs(spec):
        package, _, inner = spec.partition(":")
        try:
            path = str(importlib.resources.files(package).joinpath(inner))
        except (ModuleNotFoundError, TypeError) as error:
            raise CatalogueError(
                f"{spec}: ckanext.cookieconsent.catalogue names package {package!r}, "
                f"which cannot be imported ({error}). Expected a file path or package:path."
            ) from error
    try:
        with open(path, encoding="utf-8") as handle:
            return path, handle.read()
    except OSError as error:
        raise CatalogueError(
            f"{path}: cannot read the catalogue named by ckanext.cookieconsent.catalogue "
            f"({error.strerror}). Expected a readable YAML or JSON file."
        ) from error
    except UnicodeDecodeError as error:
        raise CatalogueError(f"{path}: the catalogue is not UTF-8 text ({error}).") from error


def _parse_document(text: str, source: str, *, json_file: bool) -> dict[str, Any]:
    try:
        data = json.loads(text) if json_file else yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise CatalogueError(
            f"{source}: line {error.lineno}, column {error.colno}: invalid JSON ({error.msg})."
        ) from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise CatalogueError(f"{source}: {where}invalid YAML ({problem}).") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CatalogueError(
            f"{source}: the top level must be a mapping with `categories` and/or `cookies`, "
            f"not a {type(data).__name__}."
        )
    return data


def _as_list(document: Mapping[str, Any], key: str, source: str) -> list[dict[str, Any]]:
    value = document.get(key) or []
    if not isinstance(value, list):
        raise CatalogueError(f"{source}: `{key}` must be a list of entries.")
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise CatalogueError(
                f"{source}: {key}[{index}]: each entry must be a mapping of fields, "
                f"not a {type(entry).__name__}."
            )
    return value


def _merge(
    builtin: list[dict[str, Any]], admin: list[dict[str, Any]], key: str, source: str
) -> list[dict[str, Any]]:
    """Admin entries override built-in ones with the same `key`, field by field."""
    merged = {str(entry[key]): dict(entry) for entry in builtin}
    order = list(merged)
    seen: set[str] = set()
    for index, entry in enumerate(admin):
        ident = entry.get(key)
        if ident is None:
            kind = "categories" if key == "id" else "cookies"
            raise CatalogueError(f"{source}: {kind}[{index}]: missing field `{key}`.")
        ident = str(ident)
        if ident in seen:
            kind = "category" if key == "id" else "cookie"
            raise CatalogueError(
                f"{source}: {kind} {ident!r}: declared twice; each {key} must be unique."
            )
        seen.add(ident)
        if ident in merged:
            merged[ident] = {**merged[ident], **entry}
        else:
            merged[ident] = dict(entry)
            order.append(ident)
    return [merged[ident] for ident in order]
