"""Our status lines (a cluster started or joined, its dashboard) on a stream.

compute and cluster report through module loggers under ``compute`` and
``cluster``, at level INFO, which Python shows only once an application asks.
The command line and the demo ask with :func:`show_status_lines`; a script
can do the same, or configure :mod:`logging` itself.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

_PACKAGES = ("compute", "cluster")


def show_status_lines(stream: TextIO | None = None, prefix: str = "") -> None:
    """Print INFO and above from this package's loggers to ``stream`` (stderr).

    Only our loggers get the handler, so distributed's own INFO lines stay
    quiet. Calling it again does not add a second handler.

    Parameters
    ----------
    stream : file-like, optional
        Where the lines go; standard error by default.
    prefix : str, optional
        Put before each line (the command line uses ``"compute: "``).

    Returns
    -------
    None

    Examples
    --------
    >>> import io
    >>> from cluster.status import show_status_lines
    >>> out = io.StringIO()
    >>> show_status_lines(out, prefix="compute: ")
    >>> logging.getLogger("cluster.connect").info("hello")
    >>> out.getvalue()
    'compute: hello\\n'
    """
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(logging.Formatter(f"{prefix}%(message)s"))
    handler.set_name("compute-status")
    for name in _PACKAGES:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if h.get_name() == "compute-status"]:
            logger.removeHandler(old)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
