"""The README and the docs' pages, as the tests that run their examples read them."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).parent.parent
DOCS = REPO / "docs"
README = REPO / "README.md"


def page(name: str) -> str:
    """The text of a docs page, by its path under docs/ without ``.md``."""
    return (DOCS / f"{name}.md").read_text()


def python_snippets(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, re.M | re.S)


def all_python_snippets() -> list[str]:
    """Every Python snippet of the README and the docs, each once."""
    texts = [README.read_text()]
    texts += [path.read_text() for path in sorted(DOCS.rglob("*.md"))]
    found: dict[str, None] = {}
    for text in texts:
        found.update(dict.fromkeys(python_snippets(text)))
    return list(found)


def shell_block(text: str, starting: str = "") -> list[str]:
    """The lines of the first ``sh`` block of ``text`` whose first line starts
    with ``starting``."""
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        if block.startswith(starting):
            return block.splitlines()
    raise LookupError(f"no sh block starting with {starting!r}")
