"""Every Python snippet of the README and the docs runs as written, as a script,
cleanly; so does the command-line guide's block."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.docs_pages import all_python_snippets, page, shell_block
from tests.remote import clean_env, run_in_group, run_watched

SNIPPETS = all_python_snippets()


def test_the_docs_have_snippets():
    assert len(SNIPPETS) >= 5


@pytest.mark.parametrize("snippet", SNIPPETS, ids=range(len(SNIPPETS)))
def test_a_snippet_runs_as_a_script_with_empty_stderr(snippet, tmp_path):
    script = tmp_path / "snippet.py"
    script.write_text(snippet)
    env = clean_env(tmp_path)
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    finished, _ = run_watched(script, env, timeout=240)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""


def command_line_block() -> list[str]:
    """The commands of the command-line guide's first shell block."""
    block = shell_block(page("guide/command-line"), "compute factorial")
    return [line.split("  #")[0].strip() for line in block if line]


def test_the_command_line_block_runs_as_written(tmp_path):
    """Each command, as typed after `source .venv/bin/activate`, in a folder
    holding the ns.txt it reads; the TLS scheduler line needs a cluster."""
    activate = Path(sys.executable).parent / "activate"
    (tmp_path / "ns.txt").write_text("5310\n5263\n# the seed's input\n7854\n")
    env = clean_env(tmp_path, DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS="127.0.0.1:0")
    commands = [c for c in command_line_block() if "10.0.0.5" not in c]
    assert len(commands) >= 8, commands
    for command in commands:
        finished = run_in_group(
            ["bash", "-c", f"source {activate} && {command}"], env, 300, tmp_path
        )
        assert finished.returncode == 0, (command, finished.stderr)
        for word in ("Traceback", "ERROR", "WARNING"):
            assert word not in finished.stderr, (command, finished.stderr)
        if "| wc -l" in command:
            assert finished.stdout.strip() == "2000"
    assert (tmp_path / "c.bin").stat().st_size > 0
    assert (tmp_path / "run.html").read_text().startswith("<!DOCTYPE html>")
