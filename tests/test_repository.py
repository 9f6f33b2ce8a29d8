"""The repository itself: what `pip install <checkout>` leaves behind is ignored."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).parent.parent
RUFF = str(Path(sys.executable).parent / "ruff")


@pytest.mark.parametrize(
    "path", ["build/lib/compute/api.py", ".mypy_cache/3.11/x.json", "compute.egg-info"]
)
def test_build_leftovers_are_ignored_by_git(path):
    checked = subprocess.run(
        ["git", "check-ignore", "--quiet", path], cwd=REPO, timeout=30
    )
    assert checked.returncode == 0, f"{path} is not ignored"


def test_ruff_leaves_build_output_alone():
    # ruff honours .gitignore: a stray build/ copy must not fail `ruff format --check`.
    build = REPO / "build"
    assert not build.exists(), "a build/ folder is left in the checkout"
    (build / "lib").mkdir(parents=True)
    try:
        (build / "lib" / "badly_formatted.py").write_text("x=1\n")
        checked = subprocess.run(
            [RUFF, "format", "--check", "."],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        shutil.rmtree(build)
    assert checked.returncode == 0, checked.stdout
