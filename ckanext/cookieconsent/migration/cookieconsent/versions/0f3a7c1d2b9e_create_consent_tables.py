"""Create the proof-of-consent tables: policy revisions and consent records.

Revision ID: 0f3a7c1d2b9e
Revises:
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0f3a7c1d2b9e"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cookieconsent_revision",
        sa.Column("revision", sa.String(32), primary_key=True),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        # The whole catalogue the visitor was shown, every language included.
        sa.Column("catalogue", JSONB, nullable=False),
    )
    op.create_table(
        "cookieconsent_record",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("consent_id", sa.String(32), nullable=False),
        sa.Column(
            "revision",
            sa.String(32),
            sa.ForeignKey("cookieconsent_revision.revision"),
            nullable=False,
        ),
        sa.Column("choices", JSONB, nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
    )
    op.create_index("cookieconsent_record_consent_id_idx", "cookieconsent_record", ["consent_id"])
    op.create_index("cookieconsent_record_created_idx", "cookieconsent_record", ["created"])


def downgrade() -> None:
    op.drop_table("cookieconsent_record")
    op.drop_table("cookieconsent_revision")
