"""A TLS cluster from ``python -m cluster certs``: accepted and refused clients."""

from __future__ import annotations

import shutil
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import yaml

from cluster.certs import create_certificates
from tests.docs_pages import page, shell_block
from tests.remote import (
    clean_env,
    kill_group,
    remote_cluster,
    run_in_group,
    run_watched,
)
from tests.test_remote import USER_SCRIPT, recorded_tasks

FAST_FAIL = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "3s"}


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """A TLS scheduler and two workers, and the environment of a trusted client."""
    base = tmp_path_factory.mktemp("tls")
    certs = base / "certs"
    finished = subprocess.run(
        [sys.executable, "-m", "cluster", "certs", str(certs), "--host", "127.0.0.2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 0, finished.stderr
    env = clean_env(base, DASK_CONFIG=str(certs))
    with remote_cluster(env, protocol="tls") as remote:
        yield remote, certs, {**env, "DASK_SCHEDULER_ADDRESS": remote.address}


def test_certificate_files_and_permissions(tls):
    _, certs, _ = tls
    for private in ("key.pem", "dask.yaml"):
        assert stat.S_IMODE((certs / private).stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.stat().st_mode) == 0o700
    for public in ("ca.pem", "cert.pem"):
        assert (certs / public).read_text().startswith("-----BEGIN CERTIFICATE-----")
    written = yaml.safe_load((certs / "dask.yaml").read_text())["distributed"]
    for role in ("scheduler", "worker"):  # dashboards over HTTPS
        assert written[role]["preload"] == ["cluster.dashboard_tls"]
    assert written["dashboard"]["link"] == "https://{host}:{port}/status"
    config = written["comm"]
    assert config["require-encryption"] is True
    # The material itself, not paths: the directory works wherever it is copied.
    assert config["tls"]["ca-file"] == (certs / "ca.pem").read_text()
    for role in ("scheduler", "worker", "client"):
        assert config["tls"][role] == {
            "cert": (certs / "cert.pem").read_text(),
            "key": (certs / "key.pem").read_text(),
        }


def public_key_bytes(pem_certificate: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    key = x509.load_pem_x509_certificate(pem_certificate).public_key()
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_the_ca_key_is_never_written_and_force_replaces_the_ca(tmp_path):
    from cryptography.hazmat.primitives import serialization

    directory = create_certificates(tmp_path / "c")
    ca_public = public_key_bytes((directory / "ca.pem").read_bytes())
    private_keys = [
        path.name for path in directory.iterdir() if b"PRIVATE KEY" in path.read_bytes()
    ]
    assert sorted(private_keys) == ["dask.yaml", "key.pem"]  # the member key only
    member = serialization.load_pem_private_key(
        (directory / "key.pem").read_bytes(), password=None
    )
    member_public = member.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert member_public != ca_public
    create_certificates(directory, overwrite=True)
    assert public_key_bytes((directory / "ca.pem").read_bytes()) != ca_public


def test_existing_certificates_are_not_overwritten(tmp_path):
    create_certificates(tmp_path / "c")
    with pytest.raises(
        FileExistsError, match=r"already in .*; pass --force to replace"
    ):
        create_certificates(tmp_path / "c")
    create_certificates(tmp_path / "c", overwrite=True)
    with pytest.raises(ValueError, match="days must be positive, got 0"):
        create_certificates(tmp_path / "d", days=0)


def test_a_client_with_the_config_runs_unchanged_code(tls, tmp_path):
    remote, _, trusted_env = tls
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    finished, workers_started = run_watched(script, trusted_env)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "exact 5"
    assert workers_started == [], "a LocalCluster was started"
    tasks = recorded_tasks(trusted_env)
    assert all(task["worker"].startswith("tls://127.0.0.") for task in tasks)
    assert {task["worker"].split(":")[1].lstrip("/") for task in tasks} == set(
        remote.worker_hosts
    )


def refused(tmp_path, env: dict[str, str]) -> subprocess.CompletedProcess:
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    finished, _ = run_watched(script, {**env, **FAST_FAIL})
    assert finished.returncode != 0
    assert "exact" not in finished.stdout
    return finished


def test_a_copied_certificate_directory_works_at_another_path(tls, tmp_path):
    _, certs, trusted_env = tls
    copy = tmp_path / "elsewhere" / "tls"
    shutil.copytree(certs, copy)
    script = tmp_path / "user_script.py"
    script.write_text(USER_SCRIPT)
    finished, _ = run_watched(script, {**trusted_env, "DASK_CONFIG": str(copy)})
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "exact 5"
    assert finished.stderr == ""


def test_a_client_without_certificates_is_refused(tls, tmp_path):
    remote, _, trusted_env = tls
    before = len(recorded_tasks(trusted_env))
    env = clean_env(tmp_path, DASK_SCHEDULER_ADDRESS=remote.address)
    finished = refused(tmp_path, env)
    assert (
        f"ValueError: the address {remote.address} asks for TLS, but no "
        "distributed.comm.tls.ca-file is configured: set DASK_CONFIG to a "
        "directory made by `python -m cluster certs DIR`"
    ) in finished.stderr
    assert len(recorded_tasks(trusted_env)) == before


def test_a_client_with_another_cas_certificates_is_refused(tls, tmp_path):
    remote, _, trusted_env = tls
    before = len(recorded_tasks(trusted_env))
    other = create_certificates(tmp_path / "other-ca")
    env = clean_env(
        tmp_path, DASK_CONFIG=str(other), DASK_SCHEDULER_ADDRESS=remote.address
    )
    finished = refused(tmp_path, env)
    assert (
        f"could not connect to the Dask scheduler at {remote.address}: its TLS "
        "certificate is not signed by this client's CA"
    ) in finished.stderr
    assert "within" not in finished.stderr  # no timeout is claimed
    assert len(recorded_tasks(trusted_env)) == before


def test_a_plain_tcp_client_is_refused(tls, tmp_path):
    remote, _, trusted_env = tls
    before = len(recorded_tasks(trusted_env))
    plain = remote.address.replace("tls://", "tcp://")
    env = clean_env(tmp_path, DASK_SCHEDULER_ADDRESS=plain)
    finished = refused(tmp_path, env)
    assert (
        f"could not connect to the Dask scheduler at {plain}: it closed the "
        "connection at once: it probably requires TLS"
    ) in finished.stderr
    assert len(recorded_tasks(trusted_env)) == before


def test_a_plain_address_with_the_tls_config_is_refused_before_connecting(
    tls, tmp_path
):
    remote, _, trusted_env = tls
    plain = remote.address.replace("tls://", "tcp://")
    finished = refused(tmp_path, {**trusted_env, "DASK_SCHEDULER_ADDRESS": plain})
    assert (
        f"ValueError: this client requires encryption "
        f"(distributed.comm.require-encryption, as a `python -m cluster certs` "
        f"config sets), so it will not connect to {plain}: address the scheduler "
        f"as {remote.address}"
    ) in finished.stderr


def test_a_tls_address_of_a_plain_scheduler_says_so(tmp_path):
    env = clean_env(tmp_path)
    certs = create_certificates(tmp_path / "certs")
    with remote_cluster(env, worker_hosts=()) as plain:
        tls_address = plain.address.replace("tcp://", "tls://")
        env = {**env, "DASK_CONFIG": str(certs), "DASK_SCHEDULER_ADDRESS": tls_address}
        finished = refused(tmp_path, env)
    assert (
        f"could not connect to the Dask scheduler at {tls_address}: it does not "
        f"speak TLS: address it as {plain.address}"
    ) in finished.stderr


def test_an_address_without_a_scheme_to_a_tls_scheduler_is_explained(tls, tmp_path):
    remote, _, _ = tls
    bare = remote.address.removeprefix("tls://")
    env = clean_env(tmp_path, **FAST_FAIL)  # no certificates
    finished = run_in_group(
        [sys.executable, "-m", "compute", "factorial", "5", "--scheduler", bare],
        env,
        timeout=120,
    )
    assert finished.returncode == 1
    assert finished.stderr == (
        f"compute: error: could not connect to the Dask scheduler at tcp://{bare}: "
        "it closed the connection at once: it probably requires TLS; address it as "
        "tls:// with its certificates (DASK_CONFIG)\n"
    )


def tls_guide_commands() -> list[str]:
    block = shell_block(page("deploy/tls"), "export DASK_CONFIG")
    return [line for line in block if line.startswith("dask ")]


def test_the_guide_tls_scheduler_binds_only_its_host_and_serves_https(tmp_path):
    """The TLS guide's scheduler command, as written but for host and ports."""
    certs = create_certificates(tmp_path / "certs", ["127.0.0.12"])
    env = clean_env(tmp_path, DASK_CONFIG=str(certs))
    [scheduler_line] = [c for c in tls_guide_commands() if c.startswith("dask sch")]
    port, dashboard = free_port("127.0.0.12"), free_port("127.0.0.12")
    command = (
        scheduler_line.replace("10.0.0.5:8787", f"10.0.0.5:{dashboard}")
        .replace("--port 8786", f"--port {port}")
        .replace("10.0.0.5", "127.0.0.12")
    )
    assert "--dashboard-address 127.0.0.12:" in command
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), *command.split()[1:]],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        listening = wait_for_listening(process.pid, {port, dashboard})
        assert {host for host, _ in listening} == {"127.0.0.12"}, listening
        context = ssl.create_default_context(cafile=str(certs / "ca.pem"))
        url = f"https://127.0.0.12:{dashboard}/status"
        with urllib.request.urlopen(url, context=context, timeout=30) as page:
            assert page.status == 200
            assert b"Dask" in page.read()
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(f"http://127.0.0.12:{dashboard}/status", timeout=10)
        # The certificate's files are gone once the server is up.
        assert not list(Path(tempfile.gettempdir()).glob("compute-dashboard-tls-*"))
    finally:
        kill_group(process)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def wait_for_listening(pid: int, ports: set[int]) -> set[tuple[str, int]]:
    """The (host, port) pairs ``pid`` listens on, once ``ports`` are among them."""
    deadline = time.monotonic() + 60
    while True:
        listening = {
            (c.laddr.ip, c.laddr.port)
            for c in psutil.Process(pid).net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }
        if ports <= {port for _, port in listening}:
            return listening
        assert time.monotonic() < deadline, f"not listening on {ports}: {listening}"
        time.sleep(0.1)
