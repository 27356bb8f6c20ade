"""`ckan cookieconsent ...` commands: check the catalogue, audit the portal, read and prune
consent records."""

from __future__ import annotations

import configparser
import datetime
import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import ckan.cli
import ckan.plugins.toolkit as tk
import click
import sqlalchemy.exc
import yaml
from ckan.config.declaration import Declaration
from ckan.exceptions import CkanConfigurationException
from ckan.types import Context

from ckanext.cookieconsent import audit, catalogue, config, drift, googleanalytics, proof, records
from ckanext.cookieconsent.logic import schema

# The CLI blanket registers what __all__ names (click groups are not plain functions).
__all__ = ["cookieconsent"]


@click.group(short_help="Cookie consent: catalogue and consent records")
def cookieconsent() -> None:
    """Commands of ckanext-cookieconsent."""


@cookieconsent.command("check")
@click.option(
    "--file",
    "catalogue_file",
    metavar="PATH",
    help="Check this catalogue file (a path or package:path) instead of the portal's "
    "ckanext.cookieconsent.catalogue, e.g. a new version before it is deployed.",
)
def check(catalogue_file: str | None) -> None:
    """Validate the cookie catalogue and print its revision and content.

    Like every `ckan -c INI` command, this one starts after CKAN has loaded its plugins,
    which needs the database; a broken catalogue has then already stopped CKAN with its
    message. `cookieconsent-check -c INI` checks the same without the database.
    """
    if catalogue_file is None:
        # What the plugin validated and serves (plugin.configure).
        _report(catalogue.current())
        _report_undeclared(catalogue.current())
        return
    gated = googleanalytics.gated()
    try:
        loaded = catalogue.load(
            catalogue_file,
            config.builtin_catalogue_values(),
            googleanalytics.cookies_to_declare if gated else None,
        )
    except CkanConfigurationException as error:  # CatalogueError included
        raise click.ClickException(str(error)) from error
    _report(loaded)
    _report_undeclared(loaded)


@click.command("cookieconsent-check")
@click.option(
    "-c",
    "--config",
    "ini",
    metavar="CONFIG",
    envvar="CKAN_INI",
    help="CKAN's ini file (default: $CKAN_INI): its catalogue and cookie names.",
)
@click.option(
    "--file",
    "catalogue_file",
    metavar="PATH",
    help="Check this catalogue file instead of the ini's ckanext.cookieconsent.catalogue; "
    "without -c, against CKAN's default cookie names.",
)
@click.help_option("-h", "--help")
def standalone_check(ini: str | None, catalogue_file: str | None) -> None:
    """Validate ckanext-cookieconsent's cookie catalogue without CKAN's database.

    Reads the ini file as CKAN does (a `use = config:...` chain included) and the
    declared defaults of the options, without starting CKAN: no database, no plugins.
    Prints the policy revision and each category's cookies, or one error line (exit
    code 1). The cookies an integration adds when CKAN starts (ckanext-googleanalytics')
    are listed by `ckan -c CONFIG cookieconsent check`.
    """
    if ini is None and catalogue_file is None:
        raise click.UsageError("give the CKAN ini file (-c CONFIG or $CKAN_INI), or --file PATH.")
    try:
        _config_without_ckan(ini)
        loaded = catalogue.load(
            catalogue_file or config.catalogue_file(), config.builtin_catalogue_values()
        )
    except (CkanConfigurationException, configparser.Error) as error:
        # One line: CKAN's own messages (a missing ini file) span several.
        lines = (line.strip() for line in str(error).strip().splitlines())
        raise click.ClickException(" ".join(line for line in lines if line)) from error
    _report(loaded)
    if "googleanalytics" in tk.config.get("ckan.plugins") and config.gate_googleanalytics():
        click.echo(
            "ckanext-googleanalytics is enabled: CKAN adds its cookies when it starts "
            "(`ckan -c CONFIG cookieconsent check` lists them)."
        )


def _report(loaded: catalogue.Catalogue) -> None:
    click.echo(f"Catalogue OK. Policy revision: {loaded.revision}")
    for category in loaded.categories:
        kind = "required" if category.required else "exempt" if category.exempt else "optional"
        names = ", ".join(c.name for c in loaded.cookies_of(category.id)) or "(no cookies)"
        click.echo(f"  {category.id} [{kind}]: {names}")


def _report_undeclared(loaded: catalogue.Catalogue) -> None:
    """The cookies seen on the portal (drift.py) that `loaded` does not declare."""
    try:
        seen = drift.undeclared(loaded)
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        click.echo(f"Cookies seen but not declared: unknown (the database failed: {reason})")
        return
    if not seen:
        click.echo("Cookies seen but not declared: none.")
        return
    click.echo(f"Cookies seen but not declared: {len(seen)}")
    for cookie in seen:
        where = "set by the portal" if cookie["source"] == "response" else "sent by browsers"
        click.echo(
            f"  {cookie['name']} ({where}): first seen {cookie['first_seen']},"
            f" last seen {cookie['last_seen']}"
        )


_DECLARATION = Path(__file__).with_name("config_declaration.yaml")


def _config_without_ckan(ini: str | None) -> None:
    """Fill CKAN's config object as CKAN's start-up does, without the app, the plugins or
    the database: the ini file's options, then the declared defaults of CKAN's options and
    ours, converted to their types. An invalid option of ours is an error, as at start-up."""
    declaration = Declaration()
    declaration.load_core_declaration()
    declaration.load_dict(yaml.safe_load(_DECLARATION.read_text("utf-8")))
    # A process of its own: CKAN's config object is still empty.
    tk.config.update(ckan.cli.load_config(ini) if ini else {})
    declaration.make_safe(tk.config)
    declaration.normalize(tk.config)
    _, errors = declaration.validate(tk.config)
    ours = {key: issues for key, issues in errors.items() if key.startswith("ckanext.cookie")}
    if ours:
        raise CkanConfigurationException(
            "Invalid configuration values provided: "
            + "; ".join(f"{key}: {' '.join(issues)}" for key, issues in sorted(ours.items()))
        )


def _site_context() -> Context:
    """The context of the CLI's action calls: the site user, authorisation skipped (whoever
    runs `ckan -c INI` already holds the database)."""
    site_user = tk.get_action("get_site_user")({"ignore_auth": True}, {})
    return {"user": site_user["name"], "ignore_auth": True}


def _call(action: str, params: dict[str, Any]) -> Any:
    """Run an action as the site user; a refused parameter is a one-line usage error
    naming the option (--since, --older-than ...)."""
    try:
        return tk.get_action(action)(_site_context(), params)
    except tk.ValidationError as error:
        raise _usage_error(error) from error


def _usage_error(error: tk.ValidationError) -> click.BadParameter:
    """The first refused parameter as click's one-line usage error about its option."""
    name, messages = sorted(error.error_dict.items())[0]
    message = messages[0] if isinstance(messages, list) and messages else messages
    return click.BadParameter(str(message), param_hint=f"'--{name.replace('_', '-')}'")


def _period(
    since: str | None, until: str | None
) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """--since and --until as instants (both days included), or a one-line usage error."""
    params = {k: v for k, v in (("since", since), ("until", until)) if v is not None}
    try:
        bounds = schema.validate(params, schema.period())
    except tk.ValidationError as error:
        raise _usage_error(error) from error
    return bounds.get("since"), bounds.get("until")


@cookieconsent.command("stats")
@click.option("--since", help="First day, YYYY-MM-DD (UTC), included.")
@click.option("--until", help="Last day, YYYY-MM-DD (UTC), included.")
def stats(since: str | None, until: str | None) -> None:
    """Print how visitors answer, as JSON."""
    params = {k: v for k, v in (("since", since), ("until", until)) if v is not None}
    result = _call("cookieconsent_stats", params)
    click.echo(json.dumps(result, indent=2, sort_keys=True))


@cookieconsent.command("rebuild-stats")
def rebuild_stats() -> None:
    """Count the daily answers again from the records.

    Needed only after records were written with the table's triggers off (a restore
    with `session_replication_role = replica`, say): the triggers keep them otherwise."""
    try:
        rows = records.rebuild_daily_counts()
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise click.ClickException(f"The rebuild failed: {reason}") from error
    click.echo(f"Daily counts rebuilt: {rows} row(s).")


@cookieconsent.command("export")
@click.option("--since", help="First day, YYYY-MM-DD (UTC), included.")
@click.option("--until", help="Last day, YYYY-MM-DD (UTC), included.")
@click.option("--output", "-o", type=click.File("w"), default="-", help="File (default: stdout).")
def export(since: str | None, until: str | None, output: click.utils.LazyFile) -> None:
    """Write the consent records of a date range as CSV."""
    try:
        for chunk in records.export_csv(*_period(since, until)):
            output.write(chunk)
    except (sqlalchemy.exc.SQLAlchemyError, ValueError) as error:
        # The database failed, or held a value Python cannot read (a year after 9999).
        # The file then ends with a "# export failed" line if some records were written.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise click.ClickException(f"The export failed: {reason}") from error


@cookieconsent.command("purge")
@click.option(
    "--older-than",
    help="A number of days, or a date YYYY-MM-DD (UTC). "
    "Default: ckanext.cookieconsent.retention_days. Never less than "
    "ckanext.cookieconsent.cookie_max_age: a choice's proof lives as long as the choice.",
)
@click.option("--dry-run", is_flag=True, help="Print how many would be deleted; delete nothing.")
def purge(older_than: str | None, dry_run: bool) -> None:
    """Delete consent records older than the retention period. Safe to run from cron."""
    params: dict[str, Any] = {"dry_run": dry_run}
    if older_than is not None:
        params["older_than"] = older_than
    result = _call("cookieconsent_record_purge", params)
    if result["dry_run"]:
        click.echo(
            f"Would delete {result['records']} consent record(s) made before "
            f"{result['older_than']} (dry run: nothing deleted)."
        )
        return
    click.echo(f"Deleted {result['records']} consent record(s) made before {result['older_than']}.")


class _AuditCannotRun(click.ClickException):
    exit_code = 2  # 1 is a violation found


@cookieconsent.command("audit")
@click.argument("urls", nargs=-1, metavar="[URL]...")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--output", "-o", type=click.File("w"), help="Also write the JSON report to this file."
)
@click.option(
    "--chromium",
    envvar="COOKIECONSENT_CHROMIUM",
    default=audit.DEFAULT_CHROMIUM,
    show_default=True,
    help="The Chromium executable (also $COOKIECONSENT_CHROMIUM).",
)
@click.option(
    "--settle-ms",
    type=click.IntRange(0, 60000),
    default=1500,
    show_default=True,
    help="How long to let each page's scripts run after it has loaded.",
)
def audit_command(
    urls: tuple[str, ...],
    as_json: bool,
    output: Any,
    chromium: str,
    settle_ms: int,
) -> None:
    """Visit the portal's pages in headless Chromium, four times (no choice, Reject all,
    Accept all, Global Privacy Control), and report what breaks the cookie catalogue or
    the consent rules.

    URLs are absolute, or paths on ckan.site_url; all on the portal's origin. Default:
    / /about /cookies (the home page needs Solr). Exit code 0: no violation; 1: a
    violation; 2: the audit could not run. Needs `pip install
    'ckanext-cookieconsent[audit]'` and Chromium.
    """
    pages = _audit_urls(urls or ("/", "/about", "/cookies"))
    try:
        report = audit.run(
            catalogue.current(),
            pages,
            chromium=chromium,
            gpc_honoured=config.honor_gpc(),
            settle_ms=settle_ms,
        )
    except audit.AuditError as error:
        raise _AuditCannotRun(str(error)) from error
    document = json.dumps(report.as_dict(), indent=2, sort_keys=True)
    if output is not None:
        output.write(document + "\n")
    click.echo(document if as_json else audit.human(report))
    if report.findings:
        raise SystemExit(1)


def _audit_urls(given: tuple[str, ...]) -> list[str]:
    """Absolute URLs on one origin, or a usage error naming the URL."""
    site = (tk.config.get("ckan.site_url") or "").rstrip("/")
    pages = [site + url if url.startswith("/") else url for url in given]
    origins = set()
    for page in pages:
        parts = urlsplit(page)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise click.BadParameter(
                f"{page!r} is not an http(s) URL nor a path starting with /", param_hint="URL"
            )
        origins.add((parts.scheme, parts.netloc.lower()))
    if len(origins) > 1:
        raise click.BadParameter("all pages must be on one origin, the portal's", param_hint="URL")
    return pages


@cookieconsent.command("verify")
@click.argument(
    "receipt_file", metavar="RECEIPT.json", type=click.Path(dir_okay=False, allow_dash=True)
)
def verify(receipt_file: str) -> None:
    """Check a visitor's consent receipt (downloaded from /cookies/receipt): its signature,
    and that the records hold the same record. Exit code 0: valid; 1: not valid (altered,
    forged, or no such record); 2: not a receipt (unreadable, malformed JSON, missing fields)."""
    try:
        if receipt_file == "-":
            text = click.get_binary_stream("stdin").read(proof.MAX_RECEIPT_BYTES + 1)
        else:
            with open(receipt_file, "rb") as stream:
                text = stream.read(proof.MAX_RECEIPT_BYTES + 1)
        receipt = proof.parse_receipt(text)
    except OSError as error:
        raise _not_a_receipt(f"cannot read {receipt_file}: {error.strerror or error}.") from error
    except proof.MalformedReceipt as error:
        raise _not_a_receipt(f"{receipt_file} is not a valid receipt: {error}") from error
    try:
        result = tk.get_action("cookieconsent_receipt_verify")(
            _site_context(), {"receipt": receipt}
        )
    except sqlalchemy.exc.SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise click.ClickException(f"The verification failed: {reason}") from error
    who = f"record {result['record_id']} of consent id {result['consent_id']}"
    if result["valid"]:
        click.echo(f"Receipt VALID: signed by this portal, and {who} is kept as it says.")
        return
    click.echo(f"Receipt NOT VALID ({who}):")
    for problem in result["problems"]:
        click.echo(f"  - {problem}")
    raise SystemExit(1)


class _NotAReceipt(click.ClickException):
    """Not a receipt at all: exit code 2, apart from a receipt that fails its checks (1)."""

    exit_code = 2


def _not_a_receipt(message: str) -> click.ClickException:
    return _NotAReceipt(message)
