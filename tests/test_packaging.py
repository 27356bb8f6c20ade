"""A wheel built from the project holds every file the plugin needs at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ckanext" / "cookieconsent"
RUNTIME_SUFFIXES = {".py", ".html", ".js", ".css", ".yml", ".yaml", ".pot", ".po", ".mo", ".svg"}


def test_wheel_contains_every_runtime_file(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("ckanext_cookieconsent-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    needed = {
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*")
        if path.suffix in RUNTIME_SUFFIXES and "__pycache__" not in path.parts
    }
    assert needed, "no runtime files found: the test would prove nothing"
    assert sorted(needed - shipped) == []
    assert any(name.endswith("entry_points.txt") for name in shipped)
