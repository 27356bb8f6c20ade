"""A fresh copy of the project: the files a clone of the next commit would hold.

Tracked files as they are in the working tree, plus new files git does not ignore; no
virtual environment, no build output, no caches. Tests that build or install the project
use it, so they see what a new user's clone holds, not what happens to lie in the tree.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def copy_tree(destination: Path) -> Path:
    """Copy the project's files to `destination` (created) and return it."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (an sdist?): which files a clone holds is unknown")

    def listed(*options: str) -> set[str]:
        result = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", *options],
            check=True,
            capture_output=True,
            text=True,
        )
        return {name for name in result.stdout.split("\0") if name}

    files = listed("--cached", "--others", "--exclude-standard") - listed("--deleted")
    for name in sorted(files):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return destination
