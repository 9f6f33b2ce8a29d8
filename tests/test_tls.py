"""A TLS cluster from ``python -m cluster certs``: accepted and refused clients."""

from __future__ import annotations

import stat
import subprocess
import sys

import pytest
import yaml

from cluster.certs import create_certificates
from tests.remote import clean_env, remote_cluster, run_watched
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
    assert stat.S_IMODE((certs / "key.pem").stat().st_mode) == 0o600
    assert stat.S_IMODE(certs.stat().st_mode) == 0o700
    for public in ("ca.pem", "cert.pem"):
        assert (certs / public).read_text().startswith("-----BEGIN CERTIFICATE-----")
    config = yaml.safe_load((certs / "dask.yaml").read_text())["distributed"]["comm"]
    assert config["require-encryption"] is True
    assert config["tls"]["ca-file"] == str(certs / "ca.pem")
    for role in ("scheduler", "worker", "client"):
        assert config["tls"][role] == {
            "cert": str(certs / "cert.pem"),
            "key": str(certs / "key.pem"),
        }


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


def test_a_client_without_certificates_is_refused(tls, tmp_path):
    remote, _, trusted_env = tls
    before = len(recorded_tasks(trusted_env))
    env = clean_env(tmp_path, DASK_SCHEDULER_ADDRESS=remote.address)
    finished = refused(tmp_path, env)
    assert f"the scheduler at {remote.address} uses TLS" in finished.stderr
    assert "python -m cluster certs" in finished.stderr
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
        f"could not connect to the Dask scheduler at {remote.address}"
        in finished.stderr
    )
    assert len(recorded_tasks(trusted_env)) == before


def test_a_plain_tcp_client_is_refused(tls, tmp_path):
    remote, _, trusted_env = tls
    before = len(recorded_tasks(trusted_env))
    plain = remote.address.replace("tls://", "tcp://")
    env = clean_env(tmp_path, DASK_SCHEDULER_ADDRESS=plain)
    finished = refused(tmp_path, env)
    assert f"could not connect to the Dask scheduler at {plain}" in finished.stderr
    assert len(recorded_tasks(trusted_env)) == before
