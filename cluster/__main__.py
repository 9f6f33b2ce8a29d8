"""``python -m cluster certs DIR``: TLS material for a secured Dask cluster."""

from __future__ import annotations

import argparse
import sys

from cluster.certs import create_certificates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cluster",
        description="Tools for running compute on a Dask cluster.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    certs = commands.add_parser(
        "certs",
        help="create a CA, a certificate and key, and a Dask config using them",
        description=(
            "Write DIR/ca.pem, DIR/cert.pem, DIR/key.pem and DIR/dask.yaml "
            "(both owner-only). Copy DIR to every host, to any path, and set "
            "DASK_CONFIG to it for the scheduler, the workers and the clients."
        ),
    )
    certs.add_argument("directory", metavar="DIR")
    certs.add_argument(
        "--host",
        action="append",
        default=[],
        help="a host name or IP address to name in the certificate (repeatable)",
    )
    certs.add_argument("--days", type=int, default=365, help="validity (default 365)")
    certs.add_argument("--force", action="store_true", help="replace existing files")
    arguments = parser.parse_args(argv)
    try:
        directory = create_certificates(
            arguments.directory, arguments.host, arguments.days, arguments.force
        )
    except (OSError, ValueError) as error:  # FileExistsError is an OSError
        certs.error(str(error))  # exits 2, with the subcommand's usage
    print(f"wrote {directory}/ca.pem, cert.pem, key.pem (owner-only) and dask.yaml")
    print(f"use it with: DASK_CONFIG={directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
