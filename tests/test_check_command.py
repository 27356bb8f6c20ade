"""Checking the catalogue from the command line: one clean line for a broken one, and
`cookieconsent-check` needs no database.

Each command runs in its own process, as an admin runs it: `ckan -c INI cookieconsent
check` (CKAN builds its app, which loads the plugin and connects to the database, before
any command runs) and the standalone check (`cookieconsent-check`, here through the
function its console script calls: tests/test_packaging.py checks the script's entry
point, tests/test_readme_walk.py runs the installed script).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
from helpers import ckan_ini

CKAN = str(Path(sys.executable).parent / "ckan")
STANDALONE = [
    sys.executable,
    "-c",
    "from ckanext.cookieconsent.cli import standalone_check; standalone_check()",
]
# Nothing listens on port 1 of the loopback: "Connection refused" at once.
NO_DATABASE = "postgresql://ckan@127.0.0.1:1/none"
BROKEN = """cookies:
  - name: _pk_id.*
    category: statistics
"""


def _ini(tmp_path: Path, *, database: str, catalogue: Path | None = None) -> Path:
    ini = tmp_path / "ckan.ini"
    options = {"ckanext.cookieconsent.catalogue": str(catalogue or "")}
    ini.write_text(ckan_ini(site_id="cookieconsent_check", database=database, **options))
    return ini


def _run(command: list[str], *, database: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CKAN_SQLALCHEMY_URL", "CKAN_INI")}
    if database is not None:  # CKAN lets this variable override the ini's sqlalchemy.url
        env["CKAN_SQLALCHEMY_URL"] = database
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def _broken(tmp_path: Path) -> Path:
    catalogue = tmp_path / "broken.yaml"
    catalogue.write_text(BROKEN)
    return catalogue


def _session_database() -> str:
    return os.environ["CKAN_SQLALCHEMY_URL"]  # tests/conftest.py: the session's PostgreSQL


def test_ckan_check_reports_a_broken_catalogue_in_one_line(tmp_path: Path) -> None:
    catalogue = _broken(tmp_path)
    ini = _ini(tmp_path, database=_session_database(), catalogue=catalogue)
    result = _run([CKAN, "-c", str(ini), "cookieconsent", "check"])
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    # The catalogue's message, then CKAN's own "Aborted!" after a configuration error.
    message, aborted = _lines(result.stderr)
    assert message.startswith(f"{catalogue}: cookie '_pk_id.*': missing field"), message
    assert aborted == "Aborted!"
    assert result.stdout == ""


def test_ckan_check_lists_the_catalogue_in_force(tmp_path: Path) -> None:
    ini = _ini(tmp_path, database=_session_database())
    result = _run([CKAN, "-c", str(ini), "cookieconsent", "check"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Catalogue OK. Policy revision: ")
    assert "  necessary [required]: ckan, " in result.stdout


def test_ckan_check_file_option_reports_a_broken_file_in_one_line(tmp_path: Path) -> None:
    catalogue = _broken(tmp_path)
    ini = _ini(tmp_path, database=_session_database())
    result = _run([CKAN, "-c", str(ini), "cookieconsent", "check", "--file", str(catalogue)])
    assert result.returncode == 1
    assert _lines(result.stderr) == [
        f"Error: {catalogue}: cookie '_pk_id.*': missing field `provider`."
    ]


def test_standalone_check_needs_no_database(tmp_path: Path) -> None:
    ini = _ini(tmp_path, database=NO_DATABASE)
    # The premise: CKAN's own command line cannot start without that database.
    ckan = _run([CKAN, "-c", str(ini), "cookieconsent", "check"])
    assert ckan.returncode != 0
    assert "Connection refused" in ckan.stderr
    result = _run([*STANDALONE, "-c", str(ini)])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Catalogue OK. Policy revision: ")
    assert "  necessary [required]: ckan, " in result.stdout


def test_standalone_check_agrees_with_ckan_check(tmp_path: Path) -> None:
    example = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
    ini = _ini(tmp_path, database=_session_database(), catalogue=Path(example))
    standalone = _run([*STANDALONE, "-c", str(ini)])
    ckan = _run([CKAN, "-c", str(ini), "cookieconsent", "check"])
    assert standalone.returncode == ckan.returncode == 0, standalone.stderr + ckan.stderr
    assert "_pk_id.*" in standalone.stdout
    # The same catalogue; CKAN's command adds what it read in the database.
    assert ckan.stdout.startswith(standalone.stdout)
    assert _lines(ckan.stdout[len(standalone.stdout) :])[0].startswith(
        "Cookies seen but not declared: "
    )


def test_ckan_check_reports_the_cookies_seen_but_not_declared(tmp_path: Path) -> None:
    """Rows written as the drift detection writes them, read by the command's process."""
    engine = sa.create_engine(_session_database())
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM cookieconsent_undeclared"))
        connection.execute(
            sa.text(
                "INSERT INTO cookieconsent_undeclared VALUES"
                " ('theme_pref', 'response', '2026-11-30 10:00Z', '2026-12-01 09:00Z'),"
                " ('_pk_id.1.ab', 'request', '2026-11-30 10:00Z', '2026-12-01 09:00Z')"
            )
        )
    try:
        ini = _ini(tmp_path, database=_session_database())
        plain = _run([CKAN, "-c", str(ini), "cookieconsent", "check"])
        example = "ckanext.cookieconsent:examples/matomo-youtube.yaml"
        with_matomo = _run([CKAN, "-c", str(ini), "cookieconsent", "check", "--file", example])
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM cookieconsent_undeclared"))
        engine.dispose()
    assert plain.returncode == 0, plain.stderr
    assert _lines(plain.stdout)[-3:] == [
        "Cookies seen but not declared: 2",
        "  _pk_id.1.ab (sent by browsers): first seen 2026-11-30T10:00:00+00:00,"
        " last seen 2026-12-01T09:00:00+00:00",
        "  theme_pref (set by the portal): first seen 2026-11-30T10:00:00+00:00,"
        " last seen 2026-12-01T09:00:00+00:00",
    ]
    # A catalogue about to be deployed that declares _pk_id.*: one left.
    assert with_matomo.returncode == 0, with_matomo.stderr
    assert "Cookies seen but not declared: 1" in with_matomo.stdout
    assert "_pk_id.1.ab" not in with_matomo.stdout


def test_standalone_check_reports_a_broken_catalogue_in_one_line(tmp_path: Path) -> None:
    catalogue = _broken(tmp_path)
    ini = _ini(tmp_path, database=NO_DATABASE, catalogue=catalogue)
    result = _run([*STANDALONE, "-c", str(ini)])
    assert result.returncode == 1
    assert _lines(result.stderr) == [
        f"Error: {catalogue}: cookie '_pk_id.*': missing field `provider`."
    ]
    assert result.stdout == ""


def test_standalone_check_of_a_file_alone_uses_ckan_defaults(tmp_path: Path) -> None:
    catalogue = tmp_path / "portal.yaml"
    catalogue.write_text(
        BROKEN
        + "    provider: Matomo\n    service: Audience measurement\n    purpose: Count visits.\n"
        + "    duration: 13 months\n    party: first\n    location: front\n"
    )
    result = _run([*STANDALONE, "--file", str(catalogue)])
    assert result.returncode == 0, result.stderr
    # CKAN's default session cookie name, and the catalogue's cookie in its category.
    assert "  necessary [required]: ckan, " in result.stdout
    assert "_pk_id.*" in result.stdout


def test_standalone_check_reports_an_invalid_option_in_one_line(tmp_path: Path) -> None:
    ini = _ini(tmp_path, database=NO_DATABASE)
    ini.write_text(
        ini.read_text().replace(
            "[app:main]\n", "[app:main]\nckanext.cookieconsent.cookie_max_age = -5\n"
        )
    )
    result = _run([*STANDALONE, "-c", str(ini)])
    assert result.returncode == 1
    (line,) = _lines(result.stderr)
    assert line.startswith("Error: Invalid configuration values provided: ")
    assert "ckanext.cookieconsent.cookie_max_age" in line


def test_standalone_check_without_an_ini_says_what_to_give() -> None:
    result = _run(STANDALONE)
    assert result.returncode == 2
    assert _lines(result.stderr)[-1] == (
        "Error: give the CKAN ini file (-c CONFIG or $CKAN_INI), or --file PATH."
    )
