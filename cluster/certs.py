"""TLS material for a secured cluster: a CA, one certificate and key, a Dask config.

``python -m cluster certs DIR`` writes ``ca.pem``, ``cert.pem``, ``key.pem``
(owner-only) and ``dask.yaml``. With ``DASK_CONFIG=DIR`` the scheduler,
workers and clients all present that certificate, trust only that CA, and
refuse unencrypted connections. The CA's private key is used once to sign and
never written, so nobody can issue further certificates for the cluster.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_FILES = ("ca.pem", "cert.pem", "key.pem", "dask.yaml")


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "compute"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _subject_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in ("localhost", "127.0.0.1", *hosts):
        try:
            entry: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            entry = x509.DNSName(host)
        if entry not in names:
            names.append(entry)
    return names


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with its final mode, so a key is never readable by others.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    os.chmod(path, mode)


def tls_config(directory: Path) -> dict:
    """The Dask config that makes every role use the files in ``directory``."""
    ca, cert, key = (str(directory / name) for name in CERT_FILES[:3])
    role = {"cert": cert, "key": key}
    return {
        "distributed": {
            "comm": {
                "require-encryption": True,
                "tls": {
                    "ca-file": ca,
                    "scheduler": dict(role),
                    "worker": dict(role),
                    "client": dict(role),
                },
            }
        }
    }


def create_certificates(
    directory: str | os.PathLike[str],
    hosts: Sequence[str] = (),
    days: int = 365,
    overwrite: bool = False,
) -> Path:
    """Write a new CA, a certificate and key signed by it, and ``dask.yaml``.

    Parameters
    ----------
    directory : path
        Where to write; created (owner-only) if missing.
    hosts : sequence of str
        Host names or IP addresses the certificate names besides localhost and
        127.0.0.1. Dask does not check host names (it trusts the CA alone),
        but the names help people reading the certificate.
    days : int
        Validity of both certificates.
    overwrite : bool
        Replace existing files instead of refusing.

    Returns
    -------
    pathlib.Path
        ``directory``, absolute.

    Raises
    ------
    FileExistsError
        If one of the files exists and ``overwrite`` is false.
    ValueError
        If ``days`` is not positive.
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    directory = Path(directory).resolve()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    existing = [name for name in CERT_FILES if (directory / name).exists()]
    if existing and not overwrite:
        raise FileExistsError(
            f"{', '.join(existing)} already in {directory}; pass --force to replace"
        )
    now = datetime.datetime.now(datetime.UTC)
    until = now + datetime.timedelta(days=days)

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("compute cluster CA"))
        .issuer_name(_name("compute cluster CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )

    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("compute cluster"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(_subject_names(hosts)), critical=False
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )

    pem = serialization.Encoding.PEM
    _write(directory / "ca.pem", ca_cert.public_bytes(pem), 0o644)
    _write(directory / "cert.pem", cert.public_bytes(pem), 0o644)
    _write(
        directory / "key.pem",
        key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    config = yaml.safe_dump(tls_config(directory), sort_keys=False)
    _write(directory / "dask.yaml", config.encode(), 0o644)
    return directory
