"""The catalogue's domain model: categories, cookies, durations, and the rules they follow.

Pure data, validated by `fields` and built by `loading`; nothing here reads a file, the
configuration or a request. The rules every consumer needs (which categories are
required, which ones a visitor sees, whether the portal asks for consent at all) are
properties of `Catalogue`, computed once.
"""

from __future__ import annotations

import datetime
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ckan.exceptions import CkanConfigurationException

REVISION_LENGTH = 8

Location = Literal["front", "back", "both"]
Party = Literal["first", "third"]
Unit = Literal["second", "minute", "hour", "day", "week", "month", "year"]
LOCATIONS: tuple[Location, ...] = ("front", "back", "both")
PARTIES: tuple[Party, ...] = ("first", "third")
UNIT_SECONDS: dict[Unit, int] = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 30 * 86400,
    "year": 365 * 86400,
}

# A text shown to people: one string per language. A plain string in a file is
# stored under "*" and serves every language.
Text = Mapping[str, str]


class CatalogueError(CkanConfigurationException):
    """A catalogue file that cannot be used; the message says where and why.

    A configuration error: raised while CKAN loads the plugin, CKAN's commands print its
    message alone (no traceback) and stop.
    """


@dataclass(frozen=True)
class Duration:
    """How long a cookie lives: `seconds` is None for a session cookie.

    `count` and `unit` say how to word it (13 months); the words are rendered per
    language when exported (`texts.duration_text`). `text`, from the file's
    `duration_text`, overrides them when it is not empty.
    """

    seconds: int | None
    count: int | None = None
    unit: Unit | None = None
    text: Text = field(default_factory=dict)

    @property
    def is_session(self) -> bool:
        return self.seconds is None

    @classmethod
    def session(cls, text: Text | None = None) -> Duration:
        return cls(None, text=text or {})

    @classmethod
    def of(cls, count: int, unit: Unit, text: Text | None = None) -> Duration:
        return cls(count * UNIT_SECONDS[unit], count, unit, text or {})

    @classmethod
    def from_seconds(cls, seconds: int, text: Text | None = None) -> Duration:
        """Worded in the largest unit that counts `seconds` exactly (15552000: 6 months)."""
        whole: list[Unit] = [u for u, size in UNIT_SECONDS.items() if seconds % size == 0]
        unit = whole[-1]  # UNIT_SECONDS goes from the smallest unit to the largest
        return cls.of(seconds // UNIT_SECONDS[unit], unit, text)


@dataclass(frozen=True)
class Category:
    id: str
    title: Text
    description: Text
    required: bool = False
    exempt: bool = False
    order: int = 100


@dataclass(frozen=True)
class Cookie:
    name: str
    category: str
    provider: Text
    service: Text
    purpose: Text
    duration: Duration
    location: Location = "both"
    party: Party = "first"
    domain: str | None = None
    path: str | None = None

    @property
    def is_pattern(self) -> bool:
        return "*" in self.name

    def matches(self, cookie_name: str) -> bool:
        """Whether a cookie the browser holds is this catalogue entry."""
        if not self.is_pattern:
            return cookie_name == self.name
        return _pattern_regex(self.name).fullmatch(cookie_name) is not None


@functools.lru_cache(maxsize=256)  # compiled once per pattern, not on every match
def _pattern_regex(pattern: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


@dataclass(frozen=True)
class Terms:
    """What a visitor agreed to or refused in one optional category: whether it was
    exempt (on by default, not a consent) and its cookies, by name and party. A change
    here, and only here, can call for asking them again."""

    exempt: bool
    cookies: frozenset[tuple[str, str]]


@dataclass(frozen=True)
class Policy:
    """What a choice answers: a revision, the categories shown (in order), the terms of
    the optional ones and the required ones. The catalogue in force has one; so has each
    stored revision (records.policy_of), which servers on another revision read."""

    revision: str
    categories: tuple[str, ...]
    terms: Mapping[str, Terms]
    required: frozenset[str]

    @property
    def optional_category_ids(self) -> tuple[str, ...]:
        return tuple(self.terms)


@dataclass(frozen=True, eq=False)  # compared by identity, so it can key a cache
class Catalogue:
    categories: tuple[Category, ...]
    cookies: tuple[Cookie, ...]
    revision: str
    updated: datetime.date | None = None

    def category(self, category_id: str) -> Category | None:
        return next((c for c in self.categories if c.id == category_id), None)

    def cookies_of(self, category_id: str) -> tuple[Cookie, ...]:
        return tuple(c for c in self.cookies if c.category == category_id)

    def entry_for(self, cookie_name: str, category_ids: set[str]) -> Cookie | None:
        """The catalogue entry of one of `category_ids` that a browser cookie matches."""
        return next(
            (c for c in self.cookies if c.category in category_ids and c.matches(cookie_name)),
            None,
        )

    def optional_category(self, category_id: str, option: str, waiting: str) -> Category:
        """The optional category an integration's option names, or the start-up error that
        says so: `waiting` says what waits for it ("Matomo's tag waits")."""
        category = self.category(category_id)
        if category is None or category.required:
            known = ", ".join(c.id for c in self.categories if not c.required)
            why = (
                "is the strictly necessary category, which needs no consent"
                if category is not None
                else "is not a category of the cookie catalogue"
            )
            raise CkanConfigurationException(
                f"{option} = {category_id!r} {why}. {waiting} for this category: set it to "
                f"one of the catalogue's optional categories: {known}."
            )
        return category

    def declares(self, cookie_name: str) -> bool:
        """Whether an entry of any category is `cookie_name` (or a pattern matching it)."""
        return any(c.matches(cookie_name) for c in self.cookies)

    # The rules. Written to the instance once (a frozen dataclass keeps its __dict__).

    @functools.cached_property
    def required_category_ids(self) -> frozenset[str]:
        """The strictly necessary categories: always on, never asked about."""
        return frozenset(c.id for c in self.categories if c.required)

    @functools.cached_property
    def visible_categories(self) -> tuple[Category, ...]:
        """The categories visitors are shown, in order: those holding a cookie, and the
        required one (it lists the consent cookie itself)."""
        used = {c.category for c in self.cookies}
        return tuple(c for c in self.categories if c.id in used or c.required)

    @functools.cached_property
    def optional_category_ids(self) -> tuple[str, ...]:
        """Visible categories a visitor can turn off (exempt ones included), in order."""
        return tuple(c.id for c in self.visible_categories if not c.required)

    @functools.cached_property
    def terms(self) -> dict[str, Terms]:
        """The terms of each optional category visitors are shown, by category id."""
        return {
            c.id: Terms(c.exempt, frozenset((k.name, k.party) for k in self.cookies_of(c.id)))
            for c in self.visible_categories
            if not c.required
        }

    @functools.cached_property
    def policy(self) -> Policy:
        return Policy(
            self.revision,
            tuple(c.id for c in self.visible_categories),
            self.terms,
            self.required_category_ids,
        )

    @functools.cached_property
    def asks_for_consent(self) -> bool:
        """Whether some visible category needs consent: neither required nor exempt.
        A stock portal (the built-in catalogue alone) sets only necessary cookies."""
        return any(not (c.required or c.exempt) for c in self.visible_categories)


def compute_revision(categories: Iterable[Category], cookies: Iterable[Cookie]) -> str:
    """A short id of what consent depends on: categories, their kind, their cookies.

    Wording is left out on purpose: fixing a typo must not ask every visitor again.
    """
    cookies = tuple(cookies)
    shape = sorted(
        (
            c.id,
            c.required,
            c.exempt,
            sorted((k.name, k.party) for k in cookies if k.category == c.id),
        )
        for c in categories
    )
    digest = hashlib.sha256(json.dumps(shape).encode()).hexdigest()
    return digest[:REVISION_LENGTH]
