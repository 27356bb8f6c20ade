"""The proof-of-consent tables (created by migration/cookieconsent, not by CKAN's init)."""

from __future__ import annotations

from typing import Any

import ckan.plugins.toolkit as tk
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

TABLES = (
    "cookieconsent_revision",
    "cookieconsent_record",
    "cookieconsent_daily",
    "cookieconsent_undeclared",
    "cookieconsent_texts",
)


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Alembic's filter: the extension's tables (and their indexes), not CKAN's, which
    share the metadata."""
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return (name if type_ == "table" else getattr(table, "name", None)) in TABLES


class PolicyRevision(tk.BaseModel):
    """A revision of the policy, with the full catalogue visitors were shown: stored once."""

    __tablename__ = "cookieconsent_revision"

    revision = sa.Column(sa.String(32), primary_key=True)
    created = sa.Column(sa.DateTime(timezone=True), nullable=False)
    catalogue = sa.Column(JSONB, nullable=False)


class ConsentRecord(tk.BaseModel):
    """One choice: pseudonymous by design (no IP address, user agent or user name)."""

    __tablename__ = "cookieconsent_record"
    # Named as the migration names them, so that alembic's comparison finds no drift.
    __table_args__ = (
        sa.Index("cookieconsent_record_consent_id_idx", "consent_id"),
        sa.Index("cookieconsent_record_created_idx", "created"),
        sa.Index("cookieconsent_record_texts_id_idx", "texts_id"),
    )

    id = sa.Column(sa.BigInteger, primary_key=True, autoincrement=True)
    consent_id = sa.Column(sa.String(32), nullable=False)
    revision = sa.Column(
        sa.String(32), sa.ForeignKey("cookieconsent_revision.revision"), nullable=False
    )
    choices = sa.Column(JSONB, nullable=False)
    created = sa.Column(sa.DateTime(timezone=True), nullable=False)
    method = sa.Column(sa.String(16), nullable=False)  # banner, policy, embed, withdrawal, gpc
    language = sa.Column(sa.String(16), nullable=False)
    # The texts the visitor was shown (ShownTexts); null for records made before they were kept.
    texts_id = sa.Column(sa.Integer, sa.ForeignKey("cookieconsent_texts.id"), nullable=True)

    def as_dict(self) -> Any:
        return {
            "consent_id": self.consent_id,
            "revision": self.revision,
            "choices": self.choices,
            "created": self.created.isoformat(),
            "method": self.method,
            "language": self.language,
        }


class DailyCount(tk.BaseModel):
    """How many records of one UTC day answered one revision with one set of answers.
    Written only by the records table's triggers (migration 5b2e9d4c7a10): whatever
    writes records, by any means, the counts follow in the same transaction."""

    __tablename__ = "cookieconsent_daily"

    day = sa.Column(sa.Date, primary_key=True)
    revision = sa.Column(sa.String(32), primary_key=True)
    choices = sa.Column(JSONB, primary_key=True)
    records = sa.Column(sa.BigInteger, nullable=False)


class UndeclaredCookie(tk.BaseModel):
    """A cookie name seen in a response (set by the portal) or a request (sent by
    browsers) that the catalogue did not declare: names only, never values (drift.py)."""

    __tablename__ = "cookieconsent_undeclared"

    name = sa.Column(sa.String(128), primary_key=True)
    source = sa.Column(sa.String(8), primary_key=True)
    first_seen = sa.Column(sa.DateTime(timezone=True), nullable=False)
    last_seen = sa.Column(sa.DateTime(timezone=True), nullable=False)


class ShownTexts(tk.BaseModel):
    """The banner's and the policy page's texts as one revision showed them in one language
    (proof.py says how they are rendered and hashed): stored once, kept while a record
    links to them."""

    __tablename__ = "cookieconsent_texts"
    __table_args__ = (
        sa.UniqueConstraint("sha256", name="cookieconsent_texts_sha256_key"),
        sa.Index("cookieconsent_texts_revision_language_idx", "revision", "language"),
    )

    id = sa.Column(sa.Integer, primary_key=True, autoincrement=True)
    sha256 = sa.Column(sa.String(64), nullable=False)
    revision = sa.Column(
        sa.String(32),
        sa.ForeignKey("cookieconsent_revision.revision", ondelete="CASCADE"),
        nullable=False,
    )
    language = sa.Column(sa.String(16), nullable=False)
    created = sa.Column(sa.DateTime(timezone=True), nullable=False)
    banner = sa.Column(sa.Text, nullable=False)
    policy = sa.Column(sa.Text, nullable=False)
