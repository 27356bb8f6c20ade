"""The visitor's choice: the preferences cookie, read and written.

Format, version 1 (documented in README.md), fields joined by ``:``::

    1:<revision>:<unix time of the choice>:<consent id>:<granted categories>:<signature>

``granted categories`` are the ids of the optional categories the visitor allowed, joined by
``/`` (empty: all refused). The revision fixes which categories were asked, so refused ones
need not be listed. The signature is an HMAC of everything before it, keyed from CKAN's
SECRET_KEY: JavaScript can read the choice, nobody can forge one. Anything that does not
parse and verify counts as "no choice yet".

A choice made under another revision of the policy (an older one, or a newer one while
servers are updated one by one) still holds for what did not change for the visitor
(`carry_over`): a refusal stands; a category they allowed stays allowed while its
cookies and exemption are the same; a new category, or new cookies in an allowed one,
is asked about, alone.

Pure: no Flask or CKAN import. Reading the choice of the current request is visitor.py's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from ckanext.cookieconsent.catalogue import Catalogue, Policy

FORMAT_VERSION = "1"
MAX_COOKIE_BYTES = 512
SIGNATURE_LENGTH = 16
CONSENT_ID_BYTES = 12  # 16 characters of base64url
CONSENT_ID_PATTERN = re.compile(r"\A[A-Za-z0-9_-]{16}\Z")  # \Z: "$" would allow a final newline
_TIME = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(rf"[A-Za-z0-9_-]{{{SIGNATURE_LENGTH}}}")
# What a revision may hold (catalogue/fields.py validates pinned ones the same way).
_REVISION = re.compile(r"[A-Za-z0-9._-]{1,32}")
_CATEGORY_IDS = re.compile(r"[a-z0-9_/-]{0,400}")
CLOCK_SKEW = 300  # seconds a choice may seem to come from the future (servers' clocks)

# Where the choice in force comes from: a stored choice, Global Privacy Control, or
# the default before any choice.
Source = Literal["cookie", "gpc", "none"]

# How a stored choice came about: the banner, the policy page, an embed's "Always allow",
# a withdrawal (refusing all on the policy page after a choice), or Global Privacy Control
# remembered. Views, records and signals all use these words.
Method = Literal["banner", "policy", "embed", "withdrawal", "gpc"]
METHODS: tuple[Method, ...] = get_args(Method)


@dataclass(frozen=True)
class Choice:
    """What the visitor allows. `source` says whether it was stored, implied by Global
    Privacy Control, or is the default before any choice (exempt categories on)."""

    revision: str
    granted: frozenset[str]
    source: Source
    made_at: int | None = None
    consent_id: str | None = None
    required: frozenset[str] = field(default_factory=frozenset)
    # Categories to consent to that the stored choice did not answer (it was made under
    # another revision): refused until the visitor answers, and what the banner asks.
    pending: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_stored(self) -> bool:
        return self.source == "cookie"

    def allows(self, category_id: str) -> bool:
        return category_id in self.required or category_id in self.granted

    def as_dict(self, catalogue: Catalogue) -> dict[str, Any]:
        """The choice for templates, JavaScript and API clients."""
        return {
            "revision": self.revision,
            "source": self.source,
            "made_at": self.made_at,
            "consent_id": self.consent_id,
            "categories": {c.id: self.allows(c.id) for c in catalogue.visible_categories},
            "pending": sorted(self.pending),
        }


def default_choice(catalogue: Catalogue, *, gpc: bool) -> Choice:
    """Before any choice: exempt categories on (CNIL exemption, opt-out), others off.
    With Global Privacy Control, everything optional is off, exempt included."""
    granted = (
        frozenset()
        if gpc
        else frozenset(c.id for c in catalogue.visible_categories if c.exempt and not c.required)
    )
    return Choice(
        revision=catalogue.revision,
        granted=granted,
        source="gpc" if gpc else "none",
        required=catalogue.required_category_ids,
    )


def new_choice(
    answered: Catalogue | Policy, granted: Iterable[str], consent_id: str | None
) -> Choice:
    """A choice made now, answering the catalogue in force or a stored revision's policy.
    Unknown or required ids in `granted` are dropped; the visitor's consent id is kept
    across changes so that their history can be followed."""
    policy = _policy(answered)
    optional = set(policy.optional_category_ids)
    return Choice(
        revision=policy.revision,
        granted=frozenset(g for g in granted if g in optional),
        source="cookie",
        made_at=int(time.time()),
        consent_id=consent_id if is_consent_id(consent_id) else _new_id(),
        required=policy.required,
    )


def _policy(answered: Catalogue | Policy) -> Policy:
    return answered.policy if isinstance(answered, Catalogue) else answered


def serialise(choice: Choice, secret: bytes) -> str:
    payload = ":".join(
        [
            FORMAT_VERSION,
            choice.revision,
            str(choice.made_at),
            str(choice.consent_id),
            "/".join(sorted(choice.granted)),
        ]
    )
    return f"{payload}:{_sign(payload, secret)}"


# The policy of another revision (past, or newer during an update), or None if unknown.
PolicyOf = Callable[[str], Policy | None]


def parse(
    value: str | None,
    now: Catalogue | Policy,
    secret: bytes,
    max_age: int,
    policy_of: PolicyOf | None = None,
) -> Choice | None:
    """The stored choice as it stands under `now` (the catalogue in force, or another
    revision's policy), or None when the value is absent, malformed, oversized, forged
    or expired, or was made under another revision whose policy `policy_of` does not know.

    Never raises, whatever the bytes: the value comes from the browser, and any page on
    this host or a sibling subdomain can plant it. Every field's alphabet is checked before
    the signature is compared (as ASCII bytes: `hmac.compare_digest` raises on non-ASCII
    text)."""
    if not value or len(value) > MAX_COOKIE_BYTES:
        return None
    parts = value.split(":")
    if len(parts) != 6:
        return None
    version, revision, made_at, consent_id, granted, signature = parts
    if (
        version != FORMAT_VERSION
        or not _REVISION.fullmatch(revision)
        or not _TIME.fullmatch(made_at)
        or not is_consent_id(consent_id)
        or not _CATEGORY_IDS.fullmatch(granted)
        or not _SIGNATURE.fullmatch(signature)
    ):
        return None
    payload = value[: -len(signature) - 1]
    if not hmac.compare_digest(signature.encode("ascii"), _sign(payload, secret).encode("ascii")):
        return None
    if not -CLOCK_SKEW <= time.time() - int(made_at) <= max_age:
        return None
    granted_ids = frozenset(granted.split("/")) if granted else frozenset()
    policy = _policy(now)
    if revision == policy.revision:
        answered: Policy | None = policy
    else:
        answered = policy_of(revision) if policy_of is not None else None
    if answered is None or not granted_ids <= set(answered.optional_category_ids):
        return None
    granted_now, pending = carry_over(granted_ids, answered, policy)
    return Choice(
        revision=policy.revision,
        granted=granted_now,
        source="cookie",
        made_at=int(made_at),
        consent_id=consent_id,
        required=policy.required,
        pending=pending,
    )


def carry_over(
    granted: frozenset[str], answered: Policy, now: Policy
) -> tuple[frozenset[str], frozenset[str]]:
    """What a choice made under the policy `answered` grants under `now`, and what it
    leaves to ask (pending), category by category:

    - refused then: refused still, whatever changed in it (a refusal stands);
    - allowed then, on the same terms now: allowed;
    - allowed then, but with new cookies (or a new party), or then exempt (on by default,
      which is no consent) and no longer: asked again;
    - new (not shown then): asked, or on by default if exempt.
    """
    allowed: set[str] = set()
    pending: set[str] = set()
    for category, terms in now.terms.items():
        then = answered.terms.get(category)
        if then is None:
            (allowed if terms.exempt else pending).add(category)
        elif category not in granted:
            continue
        elif terms.exempt or (terms.cookies <= then.cookies and not then.exempt):
            allowed.add(category)
        else:
            pending.add(category)
    return frozenset(allowed), frozenset(pending)


def is_revision(value: object) -> bool:
    """Whether `value` has the shape of a revision."""
    return isinstance(value, str) and _REVISION.fullmatch(value) is not None


def is_consent_id(value: object) -> bool:
    """Whether `value` has the shape of a consent id (16 base64url characters)."""
    return isinstance(value, str) and CONSENT_ID_PATTERN.fullmatch(value) is not None


def signing_key(secret_key: str) -> bytes:
    """A key of our own, derived from CKAN's secret, so that no other use of the
    secret can produce a valid preferences cookie."""
    return hashlib.sha256(b"ckanext-cookieconsent:" + secret_key.encode()).digest()


def _sign(payload: str, secret: bytes) -> str:
    digest = hmac.new(secret, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:SIGNATURE_LENGTH]


def _new_id() -> str:
    return secrets.token_urlsafe(CONSENT_ID_BYTES)
