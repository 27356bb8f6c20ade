"""Cookie names seen and not declared in the catalogue (drift detection, drift.py).

Revision ID: 7c4d1e8a2f35
Revises: 5b2e9d4c7a10
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "7c4d1e8a2f35"
down_revision = "5b2e9d4c7a10"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cookieconsent_undeclared",
        sa.Column("name", sa.String(128), primary_key=True),
        # "response": set by the portal; "request": sent by browsers.
        sa.Column("source", sa.String(8), primary_key=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cookieconsent_undeclared")
