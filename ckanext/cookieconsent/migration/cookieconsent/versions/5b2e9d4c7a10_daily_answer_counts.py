"""Daily answer counts, kept up to date by triggers on the records table.

The statistics then read a few thousand rows (day, revision, answers, count) instead of
every record. The triggers are statement-level, with transition tables: a bulk INSERT, a
DELETE (purge), an UPDATE or a TRUNCATE by any client (CKAN, psql, a restore into the
migrated schema) updates the counts in the same transaction, once per statement.

Revision ID: 5b2e9d4c7a10
Revises: 0f3a7c1d2b9e
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "5b2e9d4c7a10"
down_revision = "0f3a7c1d2b9e"
branch_labels = None
depends_on = None

# Counts per UTC day, revision and set of answers, from a transition table `rows`.
_GROUPED = """
    SELECT (created AT TIME ZONE 'UTC')::date AS day, revision, choices, count(*) AS records
    FROM {rows} GROUP BY 1, 2, 3
"""

FUNCTIONS = f"""
CREATE FUNCTION cookieconsent_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO cookieconsent_daily (day, revision, choices, records)
    {_GROUPED.format(rows="added")}
    ON CONFLICT (day, revision, choices)
    DO UPDATE SET records = cookieconsent_daily.records + EXCLUDED.records;
    RETURN NULL;
END $$;

CREATE FUNCTION cookieconsent_daily_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    WITH removed AS ({_GROUPED.format(rows="removed")})
    UPDATE cookieconsent_daily AS daily SET records = daily.records - removed.records
    FROM removed
    WHERE daily.day = removed.day AND daily.revision = removed.revision
      AND daily.choices = removed.choices;
    DELETE FROM cookieconsent_daily WHERE records <= 0;
    RETURN NULL;
END $$;

CREATE FUNCTION cookieconsent_daily_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM cookieconsent_daily;
    RETURN NULL;
END $$;
"""

# An UPDATE is a removal of the old rows and an addition of the new ones; the removal
# runs first (PostgreSQL fires same-event triggers in name order).
TRIGGERS = """
CREATE TRIGGER cookieconsent_daily_1_insert AFTER INSERT ON cookieconsent_record
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION cookieconsent_daily_add();
CREATE TRIGGER cookieconsent_daily_1_update_remove AFTER UPDATE ON cookieconsent_record
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION cookieconsent_daily_remove();
CREATE TRIGGER cookieconsent_daily_2_update_add AFTER UPDATE ON cookieconsent_record
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION cookieconsent_daily_add();
CREATE TRIGGER cookieconsent_daily_1_delete AFTER DELETE ON cookieconsent_record
    REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION cookieconsent_daily_remove();
CREATE TRIGGER cookieconsent_daily_1_truncate AFTER TRUNCATE ON cookieconsent_record
    FOR EACH STATEMENT EXECUTE FUNCTION cookieconsent_daily_clear();
"""


def upgrade() -> None:
    op.create_table(
        "cookieconsent_daily",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("revision", sa.String(32), primary_key=True),
        sa.Column("choices", JSONB, primary_key=True),
        sa.Column("records", sa.BigInteger, nullable=False),
    )
    op.execute(FUNCTIONS)
    op.execute(TRIGGERS)
    # The records made before this migration.
    op.execute(
        "INSERT INTO cookieconsent_daily (day, revision, choices, records)"
        + _GROUPED.format(rows="cookieconsent_record")
    )


def downgrade() -> None:
    for trigger in (
        "cookieconsent_daily_1_insert",
        "cookieconsent_daily_1_update_remove",
        "cookieconsent_daily_2_update_add",
        "cookieconsent_daily_1_delete",
        "cookieconsent_daily_1_truncate",
    ):
        op.execute(f"DROP TRIGGER {trigger} ON cookieconsent_record")
    for function in ("add", "remove", "clear"):
        op.execute(f"DROP FUNCTION cookieconsent_daily_{function}()")
    op.drop_table("cookieconsent_daily")
