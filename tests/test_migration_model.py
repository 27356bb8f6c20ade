"""The migrated database and the model agree: alembic's comparison finds no difference."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from ckan import model as ckan_model

from ckanext.cookieconsent import model

pytestmark = [pytest.mark.usefixtures("with_plugins")]


def test_the_migrated_tables_match_the_model() -> None:
    with ckan_model.meta.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": model.include_object, "compare_type": True}
        )
        differences = compare_metadata(context, model.ConsentRecord.metadata)
    assert differences == []


def test_the_comparison_sees_a_difference_when_there_is_one() -> None:
    """The test above can fail: an index the model declares and the database lacks."""
    import sqlalchemy as sa

    metadata = sa.MetaData()
    for table in model.ConsentRecord.metadata.tables.values():
        if table.name in model.TABLES:
            table.to_metadata(metadata)
    sa.Index("cookieconsent_record_method_idx", metadata.tables["cookieconsent_record"].c.method)
    with ckan_model.meta.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": model.include_object}
        )
        differences = compare_metadata(context, metadata)
    assert [d[0] for d in differences] == ["add_index"]
