"""Modules import only within their stage or from stages below it, in the order
the docs' "How it works" page gives, and no two modules import each other in a
circle."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).parent.parent
PACKAGES = ("compute", "cluster")
PAGE = REPO / "docs" / "explanation" / "how-it-works.md"


def stages() -> list[tuple[str, list[str]]]:
    """Each stage's name and its paths (files, or folders ending in ``/``), top first.

    Read from the page's numbered list: ``1. **Name** (`path`, `path`): ...``.
    """
    text = PAGE.read_text().split("\n## Stages\n", 1)[1].split("\n## ", 1)[0]
    found = []
    for name, paths in re.findall(r"^\d+\. \*\*(.+?)\*\* \(([^)]*)\)", text, re.M):
        found.append(
            (name, re.findall(r"`((?:compute|cluster)/[\w/]*(?:\.py)?)`", paths))
        )
    return found


def _module_file(name: str) -> Path | None:
    base = REPO / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.exists():
            return path
    return None


def imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports.

    ``from compute import kernels`` imports ``compute.kernels``; a name that
    a package re-exports (``from cluster import connect``) stands for the
    modules that its ``__init__`` imports.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names]
            names = [n if _module_file(n) else node.module for n in names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        for name in names:
            if name.split(".")[0] not in PACKAGES:
                continue
            if name in PACKAGES:  # the package itself: what its __init__ imports
                found |= imported_modules(REPO / name / "__init__.py")
            else:
                found.add(name)
    return found


def package_modules() -> dict[str, Path]:
    """Every module of the packages but their top ``__init__``/``__main__``."""
    modules = {}
    for package in PACKAGES:
        for path in (REPO / package).rglob("*.py"):
            relative = path.relative_to(REPO).with_suffix("")
            parts = relative.parts[:-1] if path.stem == "__init__" else relative.parts
            if len(parts) > 1 and path.stem != "__main__":
                modules[".".join(parts)] = path
    return modules


def stage_of(module: str, paths_by_stage: list[tuple[str, list[str]]]) -> int | None:
    file = _module_file(module)
    relative = file.relative_to(REPO).as_posix() if file else ""
    for rank, (_, paths) in enumerate(paths_by_stage):
        for path in paths:
            if relative == path or (path.endswith("/") and relative.startswith(path)):
                return rank
    return None


def test_the_page_names_about_eight_stages_and_every_module_once():
    listed = stages()
    assert 6 <= len(listed) <= 10, listed
    paths = [path for _, stage_paths in listed for path in stage_paths]
    assert len(paths) == len(set(paths))
    unplaced = [m for m in package_modules() if stage_of(m, listed) is None]
    assert unplaced == []


def test_every_module_imports_only_its_stage_or_below():
    listed = stages()
    upward = []
    for module, path in package_modules().items():
        rank = stage_of(module, listed)
        for imported in imported_modules(path):
            if stage_of(imported, listed) < rank:
                upward.append(f"{module} imports {imported}, which stands above it")
    assert upward == []


def test_no_modules_import_each_other_in_a_circle():
    modules = package_modules()
    imports = {m: imported_modules(path) - {m} for m, path in modules.items()}
    done: set[str] = set()

    def circle_from(module: str, trail: list[str]) -> list[str] | None:
        if module in trail:
            return [*trail[trail.index(module) :], module]
        if module in done:
            return None
        for imported in sorted(imports.get(module, ())):
            circle = circle_from(imported, [*trail, module])
            if circle:
                return circle
        done.add(module)
        return None

    circles = [c for m in sorted(modules) if (c := circle_from(m, []))]
    assert circles == []


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


def test_the_stages_check_fails_on_an_upward_import(monkeypatch):
    # kernels importing the engine, as the check would see it.
    listed = stages()
    real = imported_modules
    extra = {"compute.kernels.sieve": {"compute.engine"}}
    monkeypatch.setattr(
        "tests.test_layers.imported_modules",
        lambda path: real(path) | extra.get(_name_of(path), set()),
    )
    assert stage_of("compute.engine", listed) < stage_of(
        "compute.kernels.sieve", listed
    )
    try:
        test_every_module_imports_only_its_stage_or_below()
    except AssertionError as failure:
        assert "compute.kernels.sieve imports compute.engine" in str(failure)
    else:
        raise AssertionError("an upward import passed the check")


def _name_of(path: Path) -> str:
    return ".".join(path.relative_to(REPO).with_suffix("").parts)


def test_no_public_name_of_compute_is_a_module_name():
    # compute's names load on first use: a module of the same name, once
    # imported, would take the name's place on the package.
    import compute

    modules = {path.stem for path in (REPO / "compute").glob("*.py")}
    modules |= {path.name for path in (REPO / "compute").iterdir() if path.is_dir()}
    assert not set(compute.__all__) & modules
    assert callable(compute.factorial)
