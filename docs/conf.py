"""Sphinx configuration: ``make docs`` builds docs/_build/html offline."""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).parent
sys.path[:0] = [str(DOCS.parent), str(DOCS / "_ext")]

import compute  # noqa: E402

project = "compute"
author = "the compute authors"
copyright = "2026, the compute authors"
release = compute.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "compute_docs",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
# Markdown links to files outside the docs (source files, results) are not
# documents; they are rendered as plain links, without a cross-reference check.
myst_all_links_external = False

autosummary_generate = True
templates_path = ["_templates"]
autodoc_typehints = "none"  # numpydoc's Parameters already give the types
numpydoc_show_class_members = False
numpydoc_xref_param_type = False
# Types named in docstrings that are not documented here (gmpy2, numpy, dask).
_FOREIGN = "gmpy2|numpy|np|dask|distributed|os|collections|typing|math|pathlib"
nitpick_ignore_regex = [
    ("py:.*", rf"({_FOREIGN})\..*"),
    ("py:.*", r"(mpz|Client|Delayed|Iterable|Iterator|PathLike|Path|Sequence)"),
]

html_theme = "furo"
html_title = f"compute {release}"
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"
# Offline: no fonts or scripts from a CDN (furo bundles its assets).
html_theme_options = {"navigation_with_keys": True}
