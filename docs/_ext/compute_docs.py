"""Reference pages generated from the code: the CLI from its parser, the
config from the YAML defaults and their schemas."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles

REPO = Path(__file__).parents[2]


def _parse_rst(directive: SphinxDirective, lines: list[str]) -> list[nodes.Node]:
    container = nodes.section()
    container.document = directive.state.document
    nested_parse_with_titles(directive.state, StringList(lines), container)
    return list(container.children)


def _indented(text: str) -> list[str]:
    return ["   " + line if line else "" for line in text.splitlines()]


class CommandLine(SphinxDirective):
    """``.. compute-cli::``: every command's help, as ``--help`` prints it."""

    def run(self) -> list[nodes.Node]:
        from compute.cli import _parser

        os.environ["COLUMNS"] = "88"  # argparse wraps to the terminal's width
        parser, commands = _parser()
        lines = [*_indented_block("compute", parser.format_help())]
        for name, command in commands.items():
            lines += _indented_block(f"compute {name}", command.format_help())
        return _parse_rst(self, lines)


def _indented_block(title: str, help_text: str) -> list[str]:
    return [title, "-" * len(title), "", "::", "", *_indented(help_text), ""]


def config_rows(schema: dict[str, Any], defaults: Any, prefix: str = "") -> list:
    """(key, default, description) of every leaf of ``schema``, in its order."""
    rows = []
    for name, entry in schema.get("properties", {}).items():
        key = f"{prefix}.{name}" if prefix else name
        value = defaults.get(name) if isinstance(defaults, dict) else None
        if entry.get("type") == "object" and "properties" in entry:
            rows += config_rows(entry, value, key)
        else:
            rows.append((key, value, " ".join(entry["description"].split())))
    return rows


def schema_files() -> list[tuple[Path, Path]]:
    """Each shipped defaults file and the schema that documents it."""
    return [
        (REPO / "compute" / "compute.yaml", REPO / "compute" / "compute-schema.yaml"),
        (REPO / "cluster" / "cluster.yaml", REPO / "cluster" / "cluster-schema.yaml"),
    ]


def _shown(value: Any) -> str:
    return "null" if value is None else str(value)


class Configuration(SphinxDirective):
    """``.. compute-config::``: a table of every key, its default and meaning."""

    def run(self) -> list[nodes.Node]:
        lines = [".. list-table::", "   :header-rows: 1", "   :widths: 30 15 55", ""]
        lines += ["   * - key", "     - default", "     - meaning"]
        for defaults_path, schema_path in schema_files():
            self.env.note_dependency(str(defaults_path))
            self.env.note_dependency(str(schema_path))
            defaults = yaml.safe_load(defaults_path.read_text())
            schema = yaml.safe_load(schema_path.read_text())
            for key, default, description in config_rows(schema, defaults):
                lines += [
                    f"   * - ``{key}``",
                    f"     - ``{_shown(default)}``",
                    f"     - {description}",
                ]
        return _parse_rst(self, lines)


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("compute-cli", CommandLine)
    app.add_directive("compute-config", Configuration)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
