"""Modules import only downward, in the order the README's "How it works" gives."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).parent.parent
PACKAGES = ("compute", "cluster")


def readme_order() -> list[str]:
    """Module names, top layer first, from the README's "How it works" section."""
    section = (REPO / "docs" / "explanation" / "how-it-works.md").read_text()
    paths = re.findall(r"^\d+\. `((?:compute|cluster)/\w+\.py)`", section, re.M)
    return [path.removesuffix(".py").replace("/", ".") for path in paths]


def _module_file(name: str) -> Path:
    return REPO / f"{name.replace('.', '/')}.py"


def imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports.

    ``from compute import kernels`` imports ``compute.kernels``; a name that
    a package re-exports (``from cluster import connect``) stands for the
    modules that its ``__init__`` imports.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in PACKAGES:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            package = name.split(".")[0]
            if package not in PACKAGES:
                continue
            if _module_file(name).exists():
                found.add(name)
            else:  # the package itself, or a name its __init__ re-exports
                found |= imported_modules(REPO / package / "__init__.py")
    return found


def package_modules() -> set[str]:
    return {
        f"{package}.{path.stem}"
        for package in PACKAGES
        for path in (REPO / package).glob("*.py")
        if not path.stem.startswith("__")
    }


def test_the_readme_lists_every_module_once():
    order = readme_order()
    assert len(order) == len(set(order))
    assert set(order) == package_modules()


def test_every_module_imports_only_modules_below_it():
    order = readme_order()
    upward = []
    for rank, module in enumerate(order):
        path = REPO / f"{module.replace('.', '/')}.py"
        for imported in imported_modules(path):
            if imported != module and order.index(imported) < rank:
                upward.append(f"{module} imports {imported}, which stands above it")
    assert upward == []


def test_the_check_sees_upward_imports(tmp_path, monkeypatch):
    # The check itself can fail: each way of importing the API is caught.
    package = tmp_path / "compute"
    package.mkdir()
    (package / "__init__.py").write_text("from compute.api import factorial\n")
    (package / "api.py").write_text("")
    monkeypatch.setattr("tests.test_layers.REPO", tmp_path)
    for line in (
        "from compute.api import factorial",
        "from compute import api",
        "import compute.api",
        "from compute import factorial",
    ):
        (package / "kernels.py").write_text(line + "\n")
        assert imported_modules(package / "kernels.py") == {"compute.api"}, line


def test_no_public_name_of_compute_is_a_module_name():
    # compute's names load on first use: a module of the same name, once
    # imported, would take the name's place on the package.
    import compute

    modules = {path.stem for path in (REPO / "compute").glob("*.py")}
    assert not set(compute.__all__) & modules
    assert callable(compute.factorial)
