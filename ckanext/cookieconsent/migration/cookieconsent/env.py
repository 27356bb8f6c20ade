"""Alembic environment for the extension's own tables (`ckan db upgrade -p cookieconsent`).

The version is kept in `cookieconsent_alembic_version`, apart from CKAN's.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
if config.config_file_name:
    # Keep the loggers that exist: migrations also run inside CKAN's own process
    # (tests, `ckan db upgrade`), whose logging must survive them.
    fileConfig(config.config_file_name, disable_existing_loggers=False)

VERSION_TABLE = f"{os.path.basename(os.path.dirname(__file__))}_alembic_version"


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=None,
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
        context.configure(connection=connection, target_metadata=None, version_table=VERSION_TABLE)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
