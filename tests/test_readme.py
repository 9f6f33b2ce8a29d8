"""Every Python snippet in the README runs as written, as a script, cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.remote import clean_env, run_watched

README = Path(__file__).parent.parent / "README.md"
SNIPPETS = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.M | re.S)


def test_the_readme_has_snippets():
    assert len(SNIPPETS) >= 3


@pytest.mark.parametrize("snippet", SNIPPETS, ids=range(len(SNIPPETS)))
def test_a_snippet_runs_as_a_script_with_empty_stderr(snippet, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(snippet)
    env = clean_env(tmp_path)
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    finished, _ = run_watched(script, env, timeout=240)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
