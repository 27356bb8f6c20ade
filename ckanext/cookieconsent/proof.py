"""Audit-grade proof of consent: the texts a visitor was shown, and the visitor's receipt.

**The texts shown.** For each revision and language, the banner's and the policy page's
texts as rendered are stored once (cookieconsent_texts), with their SHA-256, and each
record made under them links to them. "As rendered" means, so that it is both faithful and
reproducible:

- the banner: the HTML the render cache holds for a visitor who has made no choice yet
  (rendering.banner_with_markers), its two per-request slots, the CSRF field and the return
  path, replaced by fixed markers (rendering.CSRF_MARKER, rendering.CAME_FROM_MARKER); empty
  when the portal has nothing to ask (no banner is ever shown);
- the policy page: its main content (the `<article>` of cookieconsent/policy.html: heading,
  intro, the categories and their cookie tables) as an anonymous visitor without a choice
  gets it in that language, without the choice form (which holds per-visitor state).

Both are rendered in a request of their own, without the visitor's cookies, session or user:
nothing of the visitor reaches them. The hash is the SHA-256 of a canonical UTF-8 form
(`canonical`): the JSON object {"banner", "format", "language", "policy", "revision"}, keys
sorted, no whitespace between tokens, non-ASCII characters as themselves. Identical texts
are stored once (the hash is unique; records link to the row's id): a theme or translation
change under one revision gives a second row, and each record links to what its visitor saw.

**The receipt.** A visitor downloads a receipt of their consent (/cookies/receipt): their
last record, with field names from ISO/IEC TS 27560:2023's consent record, signed with an
HMAC-SHA256 under a key derived from the portal's secret (as the preferences cookie is), so
that a sysadmin can check it against the records (`ckan cookieconsent verify`).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import logging
import re
from dataclasses import dataclass
from typing import Any

import ckan.plugins.toolkit as tk
import flask
import sqlalchemy as sa
import sqlalchemy.exc
from ckan import model
from flask_wtf.csrf import generate_csrf

from ckanext.cookieconsent import catalogue, config, consent, rendering
from ckanext.cookieconsent.model import ConsentRecord, PolicyRevision, ShownTexts

log = logging.getLogger(__name__)

TEXTS_FORMAT = 1
POLICY_TEMPLATE = "cookieconsent/policy.html"
# The policy page's main content: the article policy.html renders (its outermost one).
_ARTICLE = re.compile(r"<article\b[^>]*\bcookieconsent-policy\b.*?</article>", re.DOTALL)


@dataclass(frozen=True)
class Texts:
    """What one revision showed in one language: the banner and the policy page."""

    revision: str
    language: str
    banner: str
    policy: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(
            canonical(self.revision, self.language, self.banner, self.policy)
        ).hexdigest()

    def as_dict(self) -> dict[str, str]:
        return {
            "sha256": self.sha256,
            "revision": self.revision,
            "language": self.language,
            "banner": self.banner,
            "policy": self.policy,
        }


def canonical(revision: str, language: str, banner: str, policy: str) -> bytes:
    """The bytes the texts' SHA-256 is computed over (see the module's docstring)."""
    document = {
        "banner": banner,
        "format": TEXTS_FORMAT,
        "language": language,
        "policy": policy,
        "revision": revision,
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode(
        "utf-8"
    )


# --- The texts shown ---------------------------------------------------------------------

# Rendered once per process, revision and language: templates and texts are fixed until
# CKAN configures the plugin again (forget). Stored by records.write, with the first record.
_rendered: dict[tuple[str, str], Texts] = {}
_MAX_RENDERED = 256


def forget() -> None:
    """Forget what this process rendered (a new configuration: templates, texts)."""
    _rendered.clear()


def texts_shown(current: catalogue.Catalogue, language: str) -> Texts | None:
    """The texts of the catalogue in force in `language`, rendered once per process; None if
    they cannot be rendered here (outside a request, a broken theme): logged, never raised,
    so that a choice is never lost for them."""
    key = (current.revision, language)
    found = _rendered.get(key)
    if found is not None:
        return found
    try:
        found = _render(current, language)
    except Exception:
        log.exception(
            "Could not render the texts shown (revision %s, %s)", current.revision, language
        )
        return None
    if len(_rendered) >= _MAX_RENDERED:
        _rendered.clear()
    _rendered[key] = found
    return found


def retention_text(language: str) -> str | None:
    """How long records are kept (`retention_days`), in `language`: "760 days"; None when
    no records are kept."""
    if not config.records_enabled():
        return None
    days = config.retention_days()
    return catalogue.duration_text(catalogue.Duration(days * 86400, days, "day"), language)


def _render(current: catalogue.Catalogue, language: str) -> Texts:
    """Render the banner and the policy page in a request of their own: the current
    request's language and mount point, none of its cookies, session or user."""
    app = flask.current_app._get_current_object()  # type: ignore[attr-defined]
    outer = flask.request.environ
    environ = {
        key: outer[key]
        for key in ("CKAN_LANG", "CKAN_LANG_IS_DEFAULT", "SCRIPT_NAME")
        if key in outer
    }
    environ["CKAN_LANG"] = language
    # A fresh application context too: flask.g (the visitor's choice, the user) is its own.
    with (
        app.app_context(),
        app.test_request_context(
            "/cookies", base_url=flask.request.host_url, environ_overrides=environ
        ),
    ):
        app.preprocess_request()
        banner = rendering.banner_with_markers() if current.asks_for_consent else ""
        page = str(
            tk.render(
                POLICY_TEMPLATE,
                {
                    "policy": tk.h.cookieconsent_policy(),
                    "came_from": None,
                    "proof_retention": retention_text(language),
                    "cookieconsent_notice": True,
                },
            )
        )
        token = generate_csrf()
    article = _ARTICLE.search(page)
    # A theme without the article: the whole page, its CSRF token as a marker.
    policy = article.group(0) if article else page.replace(token, rendering.CSRF_MARKER)
    return Texts(current.revision, language, banner, policy)


# --- Receipts ----------------------------------------------------------------------------

RECEIPT_SCHEMA = "ckanext-cookieconsent-receipt/1"
SIGNATURE_ALGORITHM = "HMAC-SHA256"
STATUSES = ("given", "refused", "not_asked")
_HEX_SIGNATURE = re.compile(r"[0-9a-f]{64}")
_RECORD_ID = re.compile(r"[0-9]{1,19}")
MAX_RECEIPT_BYTES = 1_000_000
# What a receipt must hold, and the type of each field (the body that is signed).
_FIELDS: dict[str, type] = {
    "schema_version": str,
    "record_id": str,
    "pii_principal_id": str,
    "timestamp": str,
    "consent_status": str,
    "collection_method": str,
    "language": str,
    "purposes": list,
    "notice": dict,
    "controller": dict,
    "signature": dict,
}


class MalformedReceipt(ValueError):
    """Not a receipt of this extension: the message says which field and what is expected."""


def _receipt_key() -> bytes:
    """A key of its own for receipts, derived from the preferences cookie's (itself derived
    from CKAN's secret): no receipt signature is valid as a cookie's, nor the reverse."""
    cookie_key = consent.signing_key(tk.config.get("SECRET_KEY"))
    return hmac.new(cookie_key, b"ckanext-cookieconsent:receipt", hashlib.sha256).digest()


def sign(body: dict[str, Any]) -> str:
    """The HMAC-SHA256 (hex) of a receipt's body (everything but `signature`), canonical JSON."""
    message = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    # surrogatepass: a lone surrogate (\ud800) in a forged receipt is bytes like any other.
    data = message.encode("utf-8", "surrogatepass")
    return hmac.new(_receipt_key(), data, hashlib.sha256).hexdigest()


def _statuses(
    choices: dict[str, bool], snapshot: dict[str, Any]
) -> list[tuple[str, dict[str, str], str]]:
    """(category id, title dict, status) per category of the revision: a required category
    asks nothing (not_asked), nor one the record did not answer."""
    result = []
    for category in snapshot.get("categories", []):
        category_id = category["id"]
        if category.get("required") or category_id not in choices:
            status = "not_asked"
        else:
            status = "given" if choices[category_id] else "refused"
        result.append((category_id, category.get("title") or {}, status))
    return result


def _overall(method: str, statuses: list[str]) -> str:
    if method == "withdrawal":
        return "withdrawn"
    return "given" if "given" in statuses else "refused"


def _body(
    record: ConsentRecord,
    snapshot: dict[str, Any],
    texts_sha256: str | None,
    texts_language: str | None,
) -> dict[str, Any]:
    """The receipt of `record`, without its signature."""
    language, method = str(record.language), str(record.method)
    choices: dict[str, bool] = record.as_dict()["choices"]
    purposes = [
        {
            "purpose_id": category_id,
            "purpose": catalogue.translate(title, language) if title else category_id,
            "consent_status": status,
        }
        for category_id, title, status in _statuses(choices, snapshot)
    ]
    return {
        "schema_version": RECEIPT_SCHEMA,
        "record_id": str(record.id),
        "pii_principal_id": record.consent_id,
        "timestamp": record.created.astimezone(datetime.timezone.utc).isoformat(),
        "consent_status": _overall(method, [p["consent_status"] for p in purposes]),
        "collection_method": method,
        "language": language,
        "purposes": purposes,
        "notice": {
            "revision": record.revision,
            "sha256": texts_sha256,
            "language": texts_language,
        },
        "controller": {
            "name": tk.config.get("ckan.site_title"),
            "url": tk.config.get("ckan.site_url"),
        },
    }


def _record_with_context(
    query: Any,
) -> tuple[ConsentRecord, dict[str, Any], str | None, str | None] | None:
    """The last record `query` selects, with its revision's catalogue and its texts'
    hash and language."""
    row = (
        model.Session.query(
            ConsentRecord, PolicyRevision.catalogue, ShownTexts.sha256, ShownTexts.language
        )
        .join(PolicyRevision, PolicyRevision.revision == ConsentRecord.revision)
        .outerjoin(ShownTexts, ShownTexts.id == ConsentRecord.texts_id)
        .filter(query)
        .order_by(ConsentRecord.created.desc(), ConsentRecord.id.desc())
        .first()
    )
    return None if row is None else (row[0], row[1], row[2], row[3])


def receipt(consent_id: str) -> dict[str, Any] | None:
    """The signed receipt of the last record of `consent_id`; None if it has none."""
    found = _record_with_context(ConsentRecord.consent_id == consent_id)
    if found is None:
        return None
    body = _body(*found)
    return {
        **body,
        "signature": {"algorithm": SIGNATURE_ALGORITHM, "value": sign(body)},
    }


def parse_receipt(text: str | bytes) -> dict[str, Any]:
    """A receipt's JSON as a checked dict, or MalformedReceipt saying what is wrong."""
    if len(text) > MAX_RECEIPT_BYTES:
        raise MalformedReceipt(f"the file is larger than {MAX_RECEIPT_BYTES} bytes.")
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise MalformedReceipt(f"not valid JSON ({error}).") from None
    return check_receipt(document)


def check_receipt(document: Any) -> dict[str, Any]:
    """`document` if it has a receipt's fields and types, else MalformedReceipt."""
    if not isinstance(document, dict):
        raise MalformedReceipt("expected a JSON object (a receipt from /cookies/receipt).")
    for name, kind in _FIELDS.items():
        if name not in document:
            raise MalformedReceipt(f"the field {name!r} is missing.")
        if not isinstance(document[name], kind):
            raise MalformedReceipt(f"the field {name!r} should be a {kind.__name__}.")
    unknown = sorted(set(document) - set(_FIELDS))
    if unknown:
        raise MalformedReceipt(f"unknown field(s): {', '.join(map(repr, unknown))}.")
    if document["schema_version"] != RECEIPT_SCHEMA:
        raise MalformedReceipt(f"the field 'schema_version' should be {RECEIPT_SCHEMA!r}.")
    signature = document["signature"]
    if signature.get("algorithm") != SIGNATURE_ALGORITHM or not isinstance(
        signature.get("value"), str
    ):
        raise MalformedReceipt(
            f'the field \'signature\' should be {{"algorithm": "{SIGNATURE_ALGORITHM}",'
            ' "value": "<64 hexadecimal digits>"}.'
        )
    if not _RECORD_ID.fullmatch(document["record_id"]):
        raise MalformedReceipt("the field 'record_id' should be a number, as a string.")
    if not consent.is_consent_id(document["pii_principal_id"]):
        raise MalformedReceipt("the field 'pii_principal_id' should be a consent id.")
    for purpose in document["purposes"]:
        if not (
            isinstance(purpose, dict)
            and isinstance(purpose.get("purpose_id"), str)
            and purpose.get("consent_status") in STATUSES
        ):
            raise MalformedReceipt(
                "each entry of 'purposes' should have a 'purpose_id' and a 'consent_status'"
                f" ({', '.join(STATUSES)})."
            )
    return document


# The fields a verification compares with the record (the controller's name and URL are
# signed, but may change after the receipt was issued).
_PROVED = (
    "record_id",
    "pii_principal_id",
    "timestamp",
    "consent_status",
    "collection_method",
    "language",
    "notice",
)


def verify(document: dict[str, Any]) -> dict[str, Any]:
    """Check a receipt (check_receipt's output): its signature, and that the records hold
    the record it describes, the same. `valid` is both; `problems` says what failed."""
    body = {k: v for k, v in document.items() if k != "signature"}
    given = document["signature"]["value"]
    signed = bool(_HEX_SIGNATURE.fullmatch(given)) and hmac.compare_digest(
        given.encode("ascii"), sign(body).encode("ascii")
    )
    problems: list[str] = []
    if not signed:
        problems.append(
            "the signature does not match: the receipt was altered, forged, or signed by"
            " another portal (another secret)."
        )
    record_id, consent_id = int(document["record_id"]), document["pii_principal_id"]
    found = (
        _record_with_context(
            sa.and_(ConsentRecord.id == record_id, ConsentRecord.consent_id == consent_id)
        )
        if record_id < 2**63
        else None
    )
    if found is None:
        problems.append(
            f"no consent record {record_id} of consent id {consent_id} is kept (unknown,"
            " or deleted by a purge after the retention period)."
        )
    else:
        expected = _body(*found)
        different = [name for name in _PROVED if expected[name] != body.get(name)]
        statuses = [(p["purpose_id"], p["consent_status"]) for p in expected["purposes"]]
        if statuses != [(p.get("purpose_id"), p.get("consent_status")) for p in body["purposes"]]:
            different.append("purposes")
        if different:
            problems.append("the record kept differs in: " + ", ".join(different) + ".")
    return {
        "valid": not problems,
        "signature_valid": signed,
        "record_found": found is not None,
        "record_id": document["record_id"],
        "consent_id": consent_id,
        "problems": problems,
    }
