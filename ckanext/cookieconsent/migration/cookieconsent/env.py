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


# What both modes tell alembic: our tables only, our version table.
OPTIONS: dict[str, Any] = {
    "target_metadata": target_metadata,
    "include_object": model.include_object,
    "version_table": VERSION_TABLE,
}


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section) or {},
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        context.configure(connection=connection, **OPTIONS)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
