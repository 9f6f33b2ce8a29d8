"""TLS material for a secured cluster: a CA, one certificate and key, a Dask config.

``python -m cluster certs DIR`` writes ``ca.pem``, ``cert.pem``, ``key.pem``
(owner-only) and ``dask.yaml`` (owner-only: it holds the same three PEM texts
inline, so the directory works wherever it is copied). With
``DASK_CONFIG=DIR`` the scheduler, workers and clients all present that
certificate, trust only that CA, and refuse unencrypted connections. The CA's
private key is used once to sign and never written, so nobody can issue
further certificates for the cluster.
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


def _certificate(
    subject: str,
    issuer: x509.Name | None,
    public_key: ec.EllipticCurvePublicKey,
    signing_key: ec.EllipticCurvePrivateKey,
    days: int,
    extensions: Sequence[tuple[x509.ExtensionType, bool]],
) -> x509.Certificate:
    """A certificate for ``subject`` (self-issued when ``issuer`` is None)."""
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer or _name(subject))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
    )
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return builder.sign(signing_key, hashes.SHA256())


def _certificate_authority(
    days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new CA: its certificate, and its key (which is never written)."""
    key = ec.generate_private_key(ec.SECP256R1())
    signs_only = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = _certificate(
        "compute cluster CA",
        None,
        key.public_key(),
        key,
        days,
        [(x509.BasicConstraints(ca=True, path_length=0), True), (signs_only, True)],
    )
    return certificate, key


def _member_certificate(
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    hosts: Sequence[str],
    days: int,
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The certificate and key every scheduler, worker and client presents."""
    key = ec.generate_private_key(ec.SECP256R1())
    both_ends = x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    certificate = _certificate(
        "compute cluster",
        ca.subject,
        key.public_key(),
        ca_key,
        days,
        [
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.SubjectAlternativeName(_subject_names(hosts)), False),
            (both_ends, False),
        ],
    )
    return certificate, key


def tls_config(ca_pem: str, cert_pem: str, key_pem: str) -> dict:
    """The Dask config that makes every role use this CA, certificate and key.

    The PEM texts are written into the config itself (distributed reads a
    value that contains a newline as the material, not as a path), so the
    directory works wherever it is copied. The scheduler's and workers'
    HTTP dashboards are served over HTTPS with the same certificate
    (:mod:`cluster.dashboard_tls`).
    """
    role = {"cert": cert_pem, "key": key_pem}
    # The dashboards over HTTPS with the same certificate (see that module).
    preload = ["cluster.dashboard_tls"]
    return {
        "distributed": {
            "dashboard": {"link": "https://{host}:{port}/status"},
            "scheduler": {"preload": preload},
            "worker": {"preload": list(preload)},
            "comm": {
                "require-encryption": True,
                "tls": {
                    "ca-file": ca_pem,
                    "scheduler": dict(role),
                    "worker": dict(role),
                    "client": dict(role),
                },
            },
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
        Replace existing files (and so the CA) instead of refusing.

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
    OSError
        If ``directory`` cannot be created or written.
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
    ca, ca_key = _certificate_authority(days)
    cert, key = _member_certificate(ca, ca_key, hosts, days)
    pem = serialization.Encoding.PEM
    ca_pem, cert_pem = ca.public_bytes(pem), cert.public_bytes(pem)
    key_pem = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write(directory / "ca.pem", ca_pem, 0o644)
    _write(directory / "cert.pem", cert_pem, 0o644)
    _write(directory / "key.pem", key_pem, 0o600)
    config = tls_config(ca_pem.decode(), cert_pem.decode(), key_pem.decode())
    # It holds the key too: owner-only, like key.pem.
    _write(
        directory / "dask.yaml", yaml.safe_dump(config, sort_keys=False).encode(), 0o600
    )
    return directory
