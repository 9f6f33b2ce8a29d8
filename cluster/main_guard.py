"""Refuse to start worker processes from an unguarded script, with one line.

Dask spawns its worker processes, and a spawned process re-imports the
script that started it. Without ``if __name__ == "__main__":`` around the
work, each worker would run the work again and start processes of its own;
multiprocessing refuses that, and distributed then prints dozens of lines of
tracebacks. We look before anything is spawned: if the call comes from a
top-level statement of the ``__main__`` script that is not inside such a
block, the script stops with one line that names the fix.
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path
from types import FrameType

import dask.config

MESSAGE = (
    "{script} starts Dask worker processes, which re-import it: put the code "
    'that runs the work under `if __name__ == "__main__":` (see the README)'
)


def _is_main_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    sides = [node.test.left, *node.test.comparators]
    names = {side.id for side in sides if isinstance(side, ast.Name)}
    constants = {side.value for side in sides if isinstance(side, ast.Constant)}
    return names == {"__name__"} and constants == {"__main__"}


@lru_cache(maxsize=4)
def _guarded_lines(path: str) -> tuple[tuple[int, int], ...]:
    """Line ranges of the top-level ``if __name__ == "__main__":`` blocks."""
    try:
        tree = ast.parse(Path(path).read_text(), path)
    except (OSError, SyntaxError, ValueError):
        return ((1, sys.maxsize),)  # unreadable: assume guarded, say nothing
    return tuple(
        (node.lineno, node.end_lineno or node.lineno)
        for node in tree.body
        if _is_main_guard(node)
    )


def _top_level_line_of_main() -> tuple[str, int] | None:
    """The script and line of the ``__main__`` top-level statement now running."""
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    if not script:
        return None  # an interactive session, a notebook, ``python -c``
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        code = frame.f_code
        if code.co_name == "<module>" and code.co_filename == script:
            return script, frame.f_lineno
        frame = frame.f_back
    return None


def forget_unimportable_main() -> None:
    """Let spawned workers start when ``__main__`` came from no file.

    A script fed on standard input (``python - < script.py``) has
    ``__file__ == "<stdin>"``, and multiprocessing's spawn would make every
    worker run that path as a script: each fails with FileNotFoundError and
    distributed prints dozens of lines. Such a script cannot be re-imported,
    so it needs no guard either; without ``__file__`` its workers start as
    those of ``python -c`` do, and functions it defines still reach them
    (cloudpickle sends them by value).
    """
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    unimportable = script is not None and not Path(script).is_file()
    if unimportable and getattr(main, "__spec__", None) is None:
        del main.__file__  # type: ignore[union-attr]


def check_main_guard() -> None:
    """Exit with one line if starting workers now would re-run the script's work.

    Raises
    ------
    SystemExit
        If the ``__main__`` script calls this from unguarded top-level code
        and workers are started with ``spawn`` or ``forkserver``.
    """
    method = dask.config.get("distributed.worker.multiprocessing-method", "spawn")
    if method == "fork":
        return
    found = _top_level_line_of_main()
    if found is None:
        return
    script, line = found
    if any(first <= line <= last for first, last in _guarded_lines(script)):
        return
    raise SystemExit(f"compute: error: {MESSAGE.format(script=script)}")
