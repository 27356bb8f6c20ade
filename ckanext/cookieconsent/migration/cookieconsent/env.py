"""Alembic environment for the extension's own tables (`ckan db upgrade -p cookieconsent`).

The version is kept in `cookieconsent_alembic_version`, apart from CKAN's.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import engine_from_config, pool

from ckanext.cookieconsent import model

config = context.config
if config.config_file_name:
    # Keep the loggers that exist: migrations also run inside CKAN's own process
    # (tests, `ckan db upgrade`), whose logging must survive them.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

VERSION_TABLE = f"{os.path.basename(os.path.dirname(__file__))}_alembic_version"
# The extension's tables as the model declares them, so that `alembic revision
# --autogenerate` sees drift; CKAN's own tables share the metadata and are left out.
target_metadata = model.ConsentRecord.metadata


def include_object(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    table_name = name if type_ == "table" else getattr(table, "name", None)
    return table_name in model.TABLES


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        include_object=include_object,
        literal_binds=True,
        version_table=VERSION_TABLE,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            include_object=include_object,
            version_table=VERSION_TABLE,
        )
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
