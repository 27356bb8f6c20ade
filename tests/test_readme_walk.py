"""README.md's install section, walked: its commands run in order on a fresh clone.

The commands are read from the section's ```sh blocks and run one after the other with
bash, each in the environment the previous ones left (the activated virtual environment).
Only what cannot happen here is replaced, each replacement listed in SUBSTITUTES:

- the admin's CKAN environment is a new virtual environment holding this environment's
  packages (CKAN and its requirements, setuptools) but not this project, which the walk
  installs into it with the README's own `pip install`;
- GitHub's clone is a copy of the files a clone of the next commit holds (tests/fresh_tree.py);
- pip works offline (`--no-index --no-build-isolation`: no network in tests);
- /etc/ckan/default/ckan.ini is an ini written here, with `cookieconsent` in `ckan.plugins`
  (the step the README asks the admin to do by hand) and the test session's database.

A command the walk does not know fails the test: a changed install section changes the walk.
The demo (`make demo`) and the test commands are not walked: they install from the network
and serve, and CI runs `make test` itself.
"""

from __future__ import annotations

import importlib.metadata
import os
import re
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from fresh_tree import copy_tree
from helpers import ckan_ini

ROOT = Path(__file__).resolve().parent.parent
SECTION = "Install into an existing CKAN"
README_INI = "/etc/ckan/default/ckan.ini"
CLONE = "ckanext-cookieconsent"

# README command -> what runs instead, for what cannot run here (see the docstring).
SUBSTITUTES = {
    ". /usr/lib/ckan/default/bin/activate": ". {venv}/bin/activate",
    # The copy is made before the walk starts; the clone's place is checked.
    f"git clone https://github.com/ckan/{CLONE}.git": f"test -f {CLONE}/pyproject.toml",
    f"pip install ./{CLONE}": f"pip install --quiet --no-index --no-build-isolation ./{CLONE}",
}
# Commands that run as written, but for the ini's path; what their output must show.
EXPECTED = {
    "ckan -c {ini} db upgrade -p cookieconsent": "",
    "cookieconsent-check -c {ini}": "Catalogue OK. Policy revision: ",
    "ckan -c {ini} cookieconsent check": "Catalogue OK. Policy revision: ",
    "ckan -c {ini} config declaration cookieconsent -d": "ckanext.cookieconsent.catalogue = ",
}

pytestmark = pytest.mark.readme


def _section_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text("utf-8")
    match = re.search(rf"^## {re.escape(SECTION)}\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, f"README.md has no section {SECTION!r}"
    commands: list[str] = []
    for block in re.findall(r"^```sh\n(.*?)^```", match.group(1), re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split(" #")[0].strip()  # the README's comments explain
            if command:
                commands.append(command)
    return commands


def _ckan_environment(venv: Path) -> None:
    """A virtual environment with this one's packages but not ckanext-cookieconsent.

    Each entry of this environment's site-packages is linked, but for the project's own
    files (an editable or a regular install); `ckanext/` is a real directory of links, so
    that installing the project there writes into the new environment only.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = {
        Path(str(f)).parts[:2] if Path(str(f)).parts[0] == "ckanext" else Path(str(f)).parts[:1]
        for f in importlib.metadata.distribution("ckanext-cookieconsent").files or []
    }
    source = Path(sysconfig.get_paths()["purelib"])
    target = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    for entry in source.iterdir():
        if (entry.name,) in ours or entry.name == "__pycache__":
            continue
        if entry.name == "ckanext":
            (target / "ckanext").mkdir()
            for child in entry.iterdir():
                if ("ckanext", child.name) not in ours and child.name != "cookieconsent":
                    (target / "ckanext" / child.name).symlink_to(child)
            continue
        (target / entry.name).symlink_to(entry)
    # The console scripts CKAN's and pip's installs would have written.
    for name, module, function in [("ckan", "ckan.cli.cli", "ckan"),
                                   ("pip", "pip._internal.cli.main", "main")]:  # fmt: skip
        script = venv / "bin" / name
        script.write_text(
            f"#!{venv}/bin/python\nimport sys\nfrom {module} import {function}\n"
            f"sys.exit({function}())\n"
        )
        script.chmod(0o755)


def _write_ini(path: Path) -> None:
    database = os.environ["CKAN_SQLALCHEMY_URL"]
    path.write_text(ckan_ini(site_id="cookieconsent_readme", database=database))


def test_readme_install_section_runs_in_order(tmp_path: Path) -> None:
    commands = _section_commands()
    unknown = [
        c
        for c in commands
        if c not in SUBSTITUTES and c.replace(README_INI, "{ini}") not in EXPECTED
    ]
    assert not unknown, f"README commands the walk does not know (add them): {unknown}"
    assert [c for c in commands if c.replace(README_INI, "{ini}") in EXPECTED], "nothing to run"

    venv, ini = tmp_path / "venv", tmp_path / "ckan.ini"
    _ckan_environment(venv)
    copy_tree(tmp_path / CLONE)
    _write_ini(ini)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CKAN_INI")}
    env["PATH"] = "/usr/bin:/bin"  # nothing of this environment: the walk activates its own
    env["PIP_NO_INDEX"] = "1"

    done: list[str] = []
    prelude: list[str] = []
    outputs: dict[str, str] = {}
    for command in commands:
        run = SUBSTITUTES.get(command, command).format(venv=venv)
        run = run.replace(README_INI, shlex.quote(str(ini)))
        script = "\n".join(["set -eu", *prelude, run])
        result = subprocess.run(
            ["bash", "-c", script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, (
            f"after {done}, `{command}` (ran as `{run}`) failed:\n"
            f"{result.stdout[-2000:]}{result.stderr[-3000:]}"
        )
        done.append(command)
        if command.startswith(". "):
            prelude.append(run)  # sourced: it holds for the commands that follow
        expected = EXPECTED.get(command.replace(README_INI, "{ini}"))
        if expected:
            assert expected in result.stdout, f"`{command}` printed:\n{result.stdout}"
        outputs[command] = result.stdout

    # What the walk ran is the project installed from the clone, not this tree.
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import ckanext.cookieconsent as c; print(c.__file__)"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout.strip()  # fmt: skip
    assert where.startswith(str(venv)), where
    # The README says both checks agree on a portal without integrations; CKAN's adds what
    # it read in the database (nothing seen yet on a new portal).
    standalone = outputs.get(f"cookieconsent-check -c {README_INI}")
    ckan = outputs.get(f"ckan -c {README_INI} cookieconsent check")
    if standalone is not None and ckan is not None:
        assert ckan == standalone + "Cookies seen but not declared: none.\n"
