"""`ckan cookieconsent ...` commands."""

from __future__ import annotations

import click

from ckanext.cookieconsent import catalogue, config


@click.group(short_help="Cookie consent: check the catalogue")
def cookieconsent() -> None:
    """Commands of ckanext-cookieconsent."""


@cookieconsent.command("check")
def check() -> None:
    """Validate the cookie catalogue and print its revision and content."""
    try:
        loaded = catalogue.load(config.catalogue_file(), config.builtin_catalogue_values())
    except catalogue.CatalogueError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Catalogue OK. Policy revision: {loaded.revision}")
    for category in loaded.categories:
        kind = "required" if category.required else "exempt" if category.exempt else "optional"
        names = ", ".join(c.name for c in loaded.cookies_of(category.id)) or "(no cookies)"
        click.echo(f"  {category.id} [{kind}]: {names}")
