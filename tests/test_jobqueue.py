"""The job-queue route's config path, for SLURM and PBS, without a queue.

A real SLURM runs in ``tests/test_slurm.py``; here each check is of what the
config makes: job scripts, options and errors. Schedulers bind to loopback.
"""

from __future__ import annotations

import dask.config
import pytest

from cluster import connect
from cluster.jobqueue import cluster_options, walltime_seconds
from compute.execute import runs_in_process

PBS = {
    "compute.cluster.job-queue": "pbs",
    "jobqueue.pbs.cores": 4,
    "jobqueue.pbs.memory": "16GiB",
    "jobqueue.pbs.walltime": "01:00:00",
    "jobqueue.pbs.scheduler-options": {"host": "127.0.0.2"},
}


def test_a_pbs_job_holds_one_single_threaded_worker_per_core():
    from dask_jobqueue import PBSCluster

    with dask.config.set(PBS):
        options = cluster_options("pbs")
        with PBSCluster(**options) as cluster:
            script = cluster.job_script()
            link = cluster.dashboard_link
    assert "#PBS -l select=1:ncpus=4:mem=16GB" in script
    assert "#PBS -l walltime=01:00:00" in script
    # 16 GiB over 4 workers; retiring a tenth of the walltime early, 5
    # minutes at most, staggered by half that.
    assert "--nthreads 1 --memory-limit 4.00GiB --nworkers 4" in script
    assert "--lifetime 3300s --lifetime-stagger 150s" in script
    assert options["scheduler_options"] == {
        "host": "127.0.0.2",
        "dashboard_address": options["scheduler_options"]["dashboard_address"],
    }
    # On the scheduler's host, where its link points.
    assert options["scheduler_options"]["dashboard_address"].startswith("127.0.0.2:")
    assert link.startswith("http://127.0.0.2:")


def test_without_a_scheduler_host_the_dashboard_stays_on_loopback():
    with dask.config.set({**PBS, "jobqueue.pbs.scheduler-options": {}}):
        options = cluster_options("pbs")
    assert options["scheduler_options"]["dashboard_address"].startswith("127.0.0.1:")


def test_the_users_own_choices_are_kept():
    with dask.config.set(
        {
            **PBS,
            "jobqueue.pbs.processes": 2,
            "jobqueue.pbs.worker-extra-args": ["--lifetime", "10m"],
            "jobqueue.pbs.scheduler-options": {"dashboard_address": ":8789"},
        }
    ):
        options = cluster_options("pbs")
    assert options == {"processes": 2}


@pytest.mark.parametrize(
    ("walltime", "seconds"),
    [("00:30:00", 1800), ("45", 2700), ("10:30", 630), ("2-00:00:01", 172801),
     ("1-02", 93600), ("1-02:03", 93780)],
)  # fmt: skip
def test_walltimes_read_as_slurm_and_pbs_write_them(walltime, seconds):
    assert walltime_seconds(walltime, "jobqueue.slurm.walltime") == seconds


def test_a_walltime_that_is_not_one_is_named():
    with (
        dask.config.set({**PBS, "jobqueue.pbs.walltime": "1 hour"}),
        pytest.raises(ValueError) as raised,
    ):
        cluster_options("pbs")
    assert str(raised.value) == (
        "Dask config jobqueue.pbs.walltime = '1 hour' is not a walltime: "
        "expected HH:MM:SS, MM:SS, MM or D-HH:MM:SS"
    )


def test_missing_cores_and_memory_are_named_before_any_job():
    with (
        dask.config.set({"jobqueue.slurm.cores": None, "jobqueue.slurm.memory": None}),
        pytest.raises(ValueError) as raised,
    ):
        cluster_options("slurm")
    assert str(raised.value).startswith(
        "compute.cluster.job-queue is slurm, but jobqueue.slurm.cores and "
        "jobqueue.slurm.memory are not set"
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"compute.cluster.job-queue": "lsf"},
            "Dask config compute.cluster.job-queue = 'lsf' is not valid: "
            "expected null (a LocalCluster), slurm or pbs",
        ),
        (
            {
                **PBS,
                "compute.cluster.minimum-jobs": 3,
                "compute.cluster.maximum-jobs": 2,
            },
            "Dask config compute.cluster.maximum-jobs = 2 is below "
            "compute.cluster.minimum-jobs = 3",
        ),
    ],
)
def test_bad_queue_settings_are_refused_before_any_job(settings, message):
    with dask.config.set(settings), pytest.raises(ValueError) as raised:
        connect()
    assert str(raised.value) == message


def test_local_cluster_arguments_do_not_mix_with_a_queue():
    with dask.config.set(PBS), pytest.raises(ValueError) as raised:
        connect(n_workers=2)
    assert str(raised.value) == (
        "LocalCluster keyword arguments ['n_workers'] cannot be used with "
        "compute.cluster.job-queue = pbs"
    )


def test_a_configured_queue_takes_the_work_off_this_process():
    with dask.config.set({"compute.cluster.job-queue": None}):
        assert runs_in_process(0.001)
    with dask.config.set(PBS):
        assert not runs_in_process(0.001)
