"""The banner's and the policy page's texts as shown, per revision and language, and the
link from each record to the texts its visitor was shown (proof.py).

Revision ID: 9e6b3f1a4c28
Revises: 7c4d1e8a2f35
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "9e6b3f1a4c28"
down_revision = "7c4d1e8a2f35"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cookieconsent_texts",
        # What records link to: 4 bytes a record, where the hash would take 65.
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        # The SHA-256 (hex) of the canonical form of the four fields below (proof.py).
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column(
            "revision",
            sa.String(32),
            # A revision deleted (a reset: none is otherwise) takes its texts with it, if
            # no record links to them (the records' foreign key refuses it otherwise).
            sa.ForeignKey("cookieconsent_revision.revision", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("banner", sa.Text, nullable=False),
        sa.Column("policy", sa.Text, nullable=False),
        sa.UniqueConstraint("sha256", name="cookieconsent_texts_sha256_key"),
    )
    op.create_index(
        "cookieconsent_texts_revision_language_idx",
        "cookieconsent_texts",
        ["revision", "language"],
    )
    # Null for the records made before this migration: their texts were not kept.
    op.add_column(
        "cookieconsent_record",
        sa.Column("texts_id", sa.Integer, sa.ForeignKey("cookieconsent_texts.id"), nullable=True),
    )
    # purge (the texts no record links to any more), and the foreign key's own checks.
    op.create_index("cookieconsent_record_texts_id_idx", "cookieconsent_record", ["texts_id"])


def downgrade() -> None:
    op.drop_index("cookieconsent_record_texts_id_idx", "cookieconsent_record")
    op.drop_column("cookieconsent_record", "texts_id")
    op.drop_index("cookieconsent_texts_revision_language_idx", "cookieconsent_texts")
    op.drop_table("cookieconsent_texts")
