"""``python -m compute`` and the ``compute`` console script (see :mod:`compute.cli`)."""

from __future__ import annotations

import signal
import sys


def entry_point() -> None:
    """Run the command line; a Ctrl-C during its imports ends it with one line too.

    ``import compute`` is cheap (its names load on first use), so this runs
    at once; the command line's own imports (numpy, gmpy2, dask: 0.3 s) are
    inside the ``try``. From then on :func:`compute.cli.main` takes Ctrl-C.
    """
    try:
        from compute.cli import main
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second one changes nothing
        print("compute: interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(main())


if __name__ == "__main__":
    entry_point()
