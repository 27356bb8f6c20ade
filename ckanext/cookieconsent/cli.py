"""`ckan cookieconsent ...` commands: check the catalogue, read and prune consent records."""

from __future__ import annotations

import datetime
import json

import click

from ckanext.cookieconsent import catalogue, config, records

# The CLI blanket registers what __all__ names (click groups are not plain functions).
__all__ = ["cookieconsent"]


@click.group(short_help="Cookie consent: catalogue and consent records")
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


def _day(value: str | None, *, end: bool = False) -> datetime.datetime | None:
    if value is None:
        return None
    try:
        return records.parse_day(value, end=end)
    except ValueError as error:
        raise click.BadParameter(f"expected a date as YYYY-MM-DD, not {value!r}") from error


@cookieconsent.command("stats")
@click.option("--since", help="First day, YYYY-MM-DD (UTC), included.")
@click.option("--until", help="Last day, YYYY-MM-DD (UTC), included.")
def stats(since: str | None, until: str | None) -> None:
    """Print how visitors answer, as JSON."""
    result = records.stats(_day(since), _day(until, end=True))
    click.echo(json.dumps(result, indent=2, sort_keys=True))


@cookieconsent.command("export")
@click.option("--since", help="First day, YYYY-MM-DD (UTC), included.")
@click.option("--until", help="Last day, YYYY-MM-DD (UTC), included.")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File (default: stdout).")
def export(since: str | None, until: str | None, output: click.utils.LazyFile) -> None:
    """Write the consent records of a date range as CSV."""
    for chunk in records.export_csv(_day(since), _day(until, end=True)):
        output.write(chunk)


@cookieconsent.command("purge")
@click.option(
    "--older-than",
    help="A number of days, or a date YYYY-MM-DD (UTC). "
    "Default: ckanext.cookieconsent.retention_days.",
)
def purge(older_than: str | None) -> None:
    """Delete consent records older than the retention period. Safe to run from cron."""
    limit = _purge_limit(older_than)
    deleted = records.purge(limit)
    click.echo(f"Deleted {deleted} consent record(s) made before {limit.isoformat()}.")


def _purge_limit(older_than: str | None) -> datetime.datetime:
    if older_than is None:
        older_than = str(config.retention_days())
    if older_than.isdigit():
        return records.now() - datetime.timedelta(days=int(older_than))
    limit = _day(older_than)
    assert limit is not None
    return limit
