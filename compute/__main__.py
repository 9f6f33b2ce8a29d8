"""``python -m compute``: the command line (see :mod:`compute.cli`)."""

from compute.cli import entry_point

if __name__ == "__main__":
    entry_point()
