"""A user script, run as a subprocess with no Dask config, gives correct output."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import gmpy2

SCRIPT = Path(__file__).parent.parent / "examples" / "seed_factorials.py"


def test_seed_script_with_no_dask_config(tmp_path):
    env = {
        key: value for key, value in os.environ.items() if not key.startswith("DASK_")
    }
    env["HOME"] = str(tmp_path)  # no ~/.config/dask
    env["DASK_CONFIG"] = str(tmp_path / "no-config")
    ns = [5310, 5263, 7854]
    finished = subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, ns)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    for n in ns:
        digits = gmpy2.fac(n).digits(10)
        significant = digits.rstrip("0")
        expected = (
            f"{n}! has {len(digits)} digits: {digits[:12]}...{significant[-12:]} "
            f"then {len(digits) - len(significant)} zeros"
        )
        assert any(line.startswith(expected) for line in lines), finished.stdout
    assert re.search(
        r"^dashboard: http://127\.0\.0\.1:\d+/status$", finished.stdout, re.M
    )
