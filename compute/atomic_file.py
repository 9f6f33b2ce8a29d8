"""Files that appear whole or not at all: written aside, then renamed."""

from __future__ import annotations

import atexit
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_file(path: Path) -> Iterator[BinaryIO]:
    """A binary file that appears at ``path`` only once it is completely written.

    It is written as ``.NAME.*.part`` in the same directory, flushed to disk,
    given the mode ``open()`` would have given it, and renamed; on any error
    the temporary file is removed, and at the latest when the process exits.
    A missing directory raises
    FileNotFoundError before anything is written.
    """
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".part"
    )
    _unfinished.add(temporary)
    os.close(descriptor)
    try:
        # Opened by name, so that handle.name is the path other processes
        # can open (compute.chunk_writes has the workers write into it).
        with open(temporary, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # as open() would have made it
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    finally:
        _unfinished.discard(temporary)


# Temporary files not yet renamed or removed. A Ctrl-C can end the process
# where no handler above runs: between the file's creation and the ``try``,
# or between a context manager's entry and its registration for exit.
_unfinished: set[str] = set()


def _remove_unfinished() -> None:
    for temporary in list(_unfinished):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


atexit.register(_remove_unfinished)
