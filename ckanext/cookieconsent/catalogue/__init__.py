"""The cookie catalogue: every category and cookie the portal declares.

Built from the built-in catalogue (what stock CKAN and this extension set) and the
portal's own file (``ckanext.cookieconsent.catalogue``), validated once at start-up.
A broken file stops start-up with a `CatalogueError` naming the file, the entry and
the field, and saying what is expected.

- `model`: Catalogue, Category, Cookie, Duration, the revision, the catalogue's rules
- `fields`: validation of each field of a file's entries
- `loading`: reading, parsing and merging the files (`load`)
- `texts`: texts in any language (gettext, catalogue texts, durations by Babel)
- `export`: the shapes consumers read (API, proof of consent, browser script)
- `registry`: the catalogue in force (`install`, `current`)
"""

from ckanext.cookieconsent.catalogue.export import (
    ApiCategory,
    ApiCookie,
    ScriptCookie,
    Snapshot,
    api_category,
    api_cookie,
    policy_of_snapshot,
    script_cookies,
    snapshot,
)
from ckanext.cookieconsent.catalogue.loading import BUILTIN_FILE, load
from ckanext.cookieconsent.catalogue.model import (
    LOCATIONS,
    PARTIES,
    REVISION_LENGTH,
    Catalogue,
    CatalogueError,
    Category,
    Cookie,
    Duration,
    Location,
    Party,
    Policy,
    Terms,
    Text,
    Unit,
    compute_revision,
)
from ckanext.cookieconsent.catalogue.registry import current, install
from ckanext.cookieconsent.catalogue.texts import duration_text, gettext_for, translate

__all__ = [
    "BUILTIN_FILE",
    "LOCATIONS",
    "PARTIES",
    "REVISION_LENGTH",
    "ApiCategory",
    "ApiCookie",
    "Catalogue",
    "CatalogueError",
    "Category",
    "Cookie",
    "Duration",
    "Location",
    "Party",
    "Policy",
    "ScriptCookie",
    "Snapshot",
    "Terms",
    "Text",
    "Unit",
    "api_category",
    "api_cookie",
    "compute_revision",
    "current",
    "duration_text",
    "gettext_for",
    "install",
    "load",
    "policy_of_snapshot",
    "script_cookies",
    "snapshot",
    "translate",
]
