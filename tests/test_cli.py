"""The ``compute`` command line, run as a user runs it."""

from __future__ import annotations

import os
import pty
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import gmpy2
import psutil
import pytest
from distributed import LocalCluster

from compute import read_result
from compute.result_file import FORMATS
from tests.expected import summary_line
from tests.remote import clean_env, kill_group, run_in_group, start_interruptible

COMPUTE = str(Path(sys.executable).parent / "compute")


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120):
    return run_in_group(args, env, timeout)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.mark.parametrize("command", [[sys.executable, "-m", "compute"], [COMPUTE]])
def test_factorials_are_summarised_in_input_order(env, command):
    finished = run_cli([*command, "factorial", "7854", "5310", "0"], env)
    assert finished.returncode == 0, finished.stderr
    # Results on stdout, status on stderr: `| wc -l` counts one line an n.
    assert finished.stdout.splitlines() == [summary_line(n) for n in (7854, 5310, 0)]
    assert re.fullmatch(
        r"computed 3 factorials in [\d.]+ s in this process\n", finished.stderr
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: COMMAND"),
        (["factorial"], "the following arguments are required: N"),
        (["factorial", "abc"], "argument N: invalid int value: 'abc'"),
        (["factorial", "5", "2.5"], "argument N: invalid int value: '2.5'"),
        (["factorial", "--", "-3"], "n = -3 must be non-negative"),
        (["factorial", "4", "--", "-3"], "n at position 1 = -3 must be non-negative"),
        (
            ["factorial", "1000000000000000", "--print"],
            "n = 1000000000000000 is too large",
        ),
        (
            ["factorial", "10000000000", "--output", "x"],
            "n = 10000000000 is too large",
        ),
        (["square", "3"], "invalid choice: 'square'"),
        (["factorial", "5", "6", "--output", "x"], "--output needs {n} in PATH"),
        (["factorial", "5", "--format", "hex"], "--format needs --output"),
        (["factorial", "5", "--digits", "--print"], "not allowed with argument"),
        (["factorial", "5", "--output", "x", "--format", "oct"], "invalid choice"),
        (["factorial", "5", "--output", "no/such/x"], "output path 'no/such/x'"),
        (
            ["factorial", "5", "--scheduler", "bogus"],
            "missing port number in address 'bogus'",
        ),
    ],
)
def test_bad_arguments_get_a_usage_message_and_exit_2(env, args, message):
    finished = run_cli([sys.executable, "-m", "compute", *args], env)
    assert finished.returncode == 2
    assert finished.stderr.startswith("usage: compute")
    if args and args[0] == "factorial":  # the subcommand's own usage
        assert finished.stderr.startswith("usage: compute factorial [-h]")
    assert message in finished.stderr
    assert finished.stdout == ""


def on_a_small_disk(
    folder: Path, size: str, command: str, env: dict[str, str]
) -> subprocess.CompletedProcess:
    """``command`` (a shell line) with a tmpfs of ``size`` mounted on ``folder``
    in a mount namespace of its own: the disk is gone when the command ends."""
    folder.mkdir()
    mounted = f"mount -t tmpfs -o size={size} compute-test-disk {folder} && {command}"
    namespace = ["unshare", "--user", "--map-root-user", "--mount"]
    return run_cli([*namespace, "sh", "-c", mounted], env)


def test_a_file_its_disk_cannot_hold_is_refused_before_any_work(env, tmp_path):
    """200000! has 973,351 digits: its decimal file does not fit 256 KiB."""
    disk = tmp_path / "disk"
    finished = on_a_small_disk(
        disk,
        "256k",
        f"{COMPUTE} factorial 200000 --output {disk}/f.txt; echo exit $?; ls -A {disk}",
        env,
    )
    assert finished.stdout == "exit 2\n", finished.stdout  # and nothing written
    assert finished.stderr.splitlines()[-1] == (
        f"compute factorial: error: not enough free disk for 200000! as dec file "
        f"{disk}/f.txt (973 kB): 973 kB needed on the disk of {disk}, which has "
        "262 kB free"
    )
    fits = on_a_small_disk(
        tmp_path / "larger",
        "1100k",
        f"{COMPUTE} factorial 200000 --output {tmp_path}/larger/f.txt "
        f"&& cat {tmp_path}/larger/f.txt",
        env,
    )
    assert fits.returncode == 0, fits.stderr
    assert fits.stdout.splitlines()[-1] == gmpy2.fac(200000).digits()


def test_a_checkpoint_on_the_disk_of_the_file_is_counted_with_it(env, tmp_path):
    """The file (973 kB) fits 1100 KiB alone; with a checkpoint of up to the
    result's 404 kB beside it, it does not."""
    disk = tmp_path / "disk"
    finished = on_a_small_disk(
        disk,
        "1100k",
        f"{COMPUTE} factorial 200000 --output {disk}/f.txt --checkpoint {disk}/ck",
        env,
    )
    assert finished.returncode == 2, finished.stderr
    assert finished.stderr.splitlines()[-1] == (
        f"compute factorial: error: not enough free disk for 200000! as dec file "
        f"{disk}/f.txt (973 kB) and its checkpoint {disk}/ck (404 kB): 1.38 MB "
        f"needed on the disk of {disk}, which has 1.13 MB free"
    )


def test_an_unreachable_scheduler_exits_1_naming_it(env):
    env["DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT"] = "2s"
    address = "tcp://127.0.0.9:9"
    finished = run_cli(
        [sys.executable, "-m", "compute", "factorial", "5", "--scheduler", address], env
    )
    assert finished.returncode == 1
    assert f"compute: error: could not connect to the Dask scheduler at {address}" in (
        finished.stderr
    )


@pytest.mark.parametrize("written", ["tcp://127.0.0.14:8786", "127.0.0.14:8786"])
def test_a_refused_connection_is_said_at_once(env, written):
    # Nothing listens there: the port refuses at once, where distributed
    # would retry until its connect timeout (15 s here).
    start = time.monotonic()
    finished = run_cli([COMPUTE, "factorial", "5", "--scheduler", written], env)
    seconds = time.monotonic() - start
    assert finished.returncode == 1
    assert finished.stderr == (
        "compute: error: could not connect to the Dask scheduler at "
        "tcp://127.0.0.14:8786: connection refused: nothing listens there; is the "
        "scheduler running?\n"
    )
    assert seconds < 10, seconds  # at once: the command's own start is most of it


def run_on_a_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run with stdout and stderr on a pseudo-terminal (bars go to stderr)."""
    controller, terminal = pty.openpty()
    with open(os.devnull, "rb") as no_input:
        process = subprocess.Popen(
            args, env=env, stdin=no_input, stdout=terminal, stderr=terminal
        )
    os.close(terminal)
    output = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    return process.wait(timeout=120), output.decode()


def test_a_named_scheduler_prints_its_dashboard_and_a_progress_bar(env, client):
    n = 10**7
    address = client.scheduler.address
    code, output = run_on_a_terminal(
        [sys.executable, "-m", "compute", "factorial", str(n), "--scheduler", address],
        env,
    )
    assert code == 0, output
    assert "| 100% Completed |" in output
    assert summary_line(n) in output.splitlines()


def last_drawn(output: str, marker: str) -> str:
    """What a terminal shows of the line a progress bar redraws with ``\\r``.

    Each redraw overwrites from the first column and leaves whatever an older,
    longer one had past its end, as a terminal does.
    """
    # A terminal ends lines with \r\n; only \n ends one here.
    line = next(line for line in output.split("\n") if marker in line)
    shown = ""
    for redraw in line.removesuffix("\r").split("\r"):
        shown = redraw + shown[len(redraw) :]
    return shown


def test_long_work_here_shows_a_clean_progress_bar(env, tmp_path):
    n = 10**7
    path = tmp_path / "f.bin"
    code, output = run_on_a_terminal(
        [COMPUTE, "factorial", str(n), "--output", str(path), "--format", "bin"],
        env,
    )
    assert code == 0, output
    assert summary_line(n) in output.splitlines()
    # Each redraw covers the one before: nothing of an older, longer one is left.
    assert re.fullmatch(
        r"\[#{40}\] \| 100% Completed \| +[\d.]+ s *",
        last_drawn(output, "Completed"),
    ), repr(last_drawn(output, "Completed"))
    assert re.fullmatch(
        r"\[#{40}\] \| 100% Written \| +[\d.]+ s *", last_drawn(output, "Written")
    ), repr(last_drawn(output, "Written"))
    assert read_result(path, format="bin") == gmpy2.fac(n)
    # Weighted by cost, and moving while the pieces run: not the thirds of a
    # count of three tasks (two pieces and their product).
    shown = percentages(output, "Completed")
    assert shown - {0, 33, 66, 100}, shown


def percentages(output: str, label: str) -> set[int]:
    """Every percentage a bar labelled ``label`` drew."""
    return {int(p) for p in re.findall(rf"(\d+)% {label}", output)}


def test_a_decimal_file_reports_its_conversion_as_parts_finish(env, tmp_path):
    # The conversion on the cluster: its powers, splits and parts move the bar
    # as they finish, long before the first digits can be written.
    env["DASK_COMPUTE__EXECUTION"] = "cluster"
    env["DASK_COMPUTE__DECIMAL__IN_PROCESS_SECONDS"] = "0"
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    path = tmp_path / "f.txt"
    n = 3 * 10**6
    code, output = run_on_a_terminal(
        [COMPUTE, "factorial", str(n), "--output", str(path)], env
    )
    assert code == 0, output
    shown = percentages(output, "Written")
    assert len(shown - {0, 100}) >= 4, shown
    assert path.read_text() == f"{gmpy2.fac(n)}\n"


def test_a_performance_report_is_saved(env, tmp_path):
    report = tmp_path / "report.html"
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    env["DASK_COMPUTE__CLUSTER__N_WORKERS"] = "1"
    finished = run_cli(
        [
            sys.executable,
            "-m",
            "compute",
            "factorial",
            "30000",
            "--report",
            str(report),
        ],
        env,
    )
    assert finished.returncode == 0, finished.stderr
    assert f"performance report: {report}" in finished.stderr
    html = report.read_text()
    assert "Dask Performance Report" in html
    assert "factorial" in html
    # BokehJS is inline: the report opens offline.
    assert "cdn.bokeh.org" not in html
    assert "<script src=" not in html


def test_digits_and_print_put_only_the_results_on_stdout(env):
    ns = [5310, 0, 25]
    digits = run_cli([COMPUTE, "factorial", *map(str, ns), "--digits"], env)
    assert digits.returncode == 0, digits.stderr
    assert digits.stdout.splitlines() == [str(len(str(gmpy2.fac(n)))) for n in ns]
    assert digits.stderr == ""  # --digits computes nothing
    printed = run_cli([COMPUTE, "factorial", *map(str, ns), "--print"], env)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == "".join(f"{gmpy2.fac(n)}\n" for n in ns)


@pytest.mark.parametrize("format", FORMATS)
def test_output_writes_each_result_in_its_format(env, tmp_path, format):
    ns = [7854, 1, 100_000]
    pattern = str(tmp_path / "{n}.out")
    finished = run_cli(
        [COMPUTE, "factorial", *map(str, ns), "--output", pattern, "--format", format],
        env,
    )
    assert finished.returncode == 0, finished.stderr
    for n in ns:
        path = tmp_path / f"{n}.out"
        assert f"wrote {n}! to {path} ({path.stat().st_size} bytes, {format})" in (
            finished.stderr
        )
        assert read_result(path, format=format) == gmpy2.fac(n)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{n}.out" for n in ns)


STARTED = re.compile(
    r"compute: started a local Dask cluster of 2 workers; "
    r"dashboard: http://127\.0\.0\.1:\d+/status\n"
)


@pytest.fixture
def cluster_env(env) -> dict[str, str]:
    """Work, decimal conversion included, on a shared 2-worker LocalCluster."""
    env["DASK_COMPUTE__EXECUTION"] = "cluster"
    env["DASK_COMPUTE__DECIMAL__IN_PROCESS_SECONDS"] = "0"
    env["DASK_COMPUTE__CLUSTER__N_WORKERS"] = "2"
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    return env


def test_a_run_on_the_shared_cluster_prints_only_its_status_line(cluster_env, tmp_path):
    path = tmp_path / "f.txt"
    finished = run_cli(
        [COMPUTE, "factorial", "200000", "--output", str(path)], cluster_env
    )
    assert finished.returncode == 0, finished.stderr
    started, computed, wrote = finished.stderr.splitlines(keepends=True)
    assert STARTED.fullmatch(started), finished.stderr
    assert computed.startswith("computed 1 factorial in ")
    assert wrote.startswith(f"wrote 200000! to {path} (")
    assert finished.stdout.splitlines() == [summary_line(200000)]
    assert path.read_text() == f"{gmpy2.fac(200000)}\n"


def test_ctrl_c_prints_one_line_exits_130_at_once_and_leaves_nothing(
    cluster_env, tmp_path
):
    folder = tmp_path / "results"
    folder.mkdir()
    path = folder / "big.txt"
    path.write_text("old\n")
    process = start_interruptible(
        [COMPUTE, "factorial", str(3 * 10**6), "--output", str(path)], cluster_env
    )
    try:
        deadline = time.monotonic() + 60
        while not list(folder.glob(".big.txt.*.part")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no part file within 60 s"
            time.sleep(0.01)
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the conversion did not start a cluster"
        interrupted = time.monotonic()
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C while it writes
        _, stderr = process.communicate(timeout=30)
        seconds = time.monotonic() - interrupted
        # Before the cleanup below, which would hide any: nothing stays behind.
        deadline = time.monotonic() + 5
        while [child for child in children if alive(child)]:
            assert time.monotonic() < deadline, [c for c in children if alive(c)]
            time.sleep(0.05)
    finally:
        kill_group(process)
    assert process.returncode == 130, stderr
    started, *computed, interrupted = stderr.splitlines(keepends=True)
    assert STARTED.fullmatch(started), stderr
    assert all(line.startswith("computed 1 factorial in ") for line in computed)
    assert interrupted == "compute: interrupted\n"
    assert seconds < 2, f"exited {seconds:.2f} s after Ctrl-C"
    assert path.read_text() == "old\n"
    assert [p.name for p in folder.iterdir()] == ["big.txt"]


def alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_print_into_a_closed_pipe_exits_quietly(env):
    process = subprocess.Popen(
        [COMPUTE, "factorial", "1000000", "--print"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        head = process.stdout.read(20)  # as `| head -c 20` does
        process.stdout.close()
        stderr = process.stderr.read().decode()
        process.wait(timeout=120)
    finally:
        kill_group(process)
    assert head == str(gmpy2.fac(1000000))[:20].encode()
    assert process.returncode == 128 + signal.SIGPIPE
    assert re.fullmatch(r"computed 1 factorial in [\d.]+ s in this process\n", stderr)


def test_too_large_for_a_remote_clusters_workers_exits_2(env):
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        memory_limit="200MB",
        dashboard_address="127.0.0.1:0",
    ) as small:
        finished = run_cli(
            [COMPUTE, "factorial", "20000000", "--scheduler", small.scheduler_address],
            env,
        )
    assert finished.returncode == 2, finished.stderr
    connected = f"compute: connected to the Dask scheduler at {small.scheduler_address}"
    assert finished.stderr.startswith(connected)
    assert "\nusage: compute factorial [-h]" in finished.stderr
    assert (
        # One worker cannot spread it: computed lean, it needs 4x its size.
        f"error: n = 20000000 is too large: its factorial has about 57 MB and "
        f"needs about 228 MB to compute, but the cluster at "
        f"{small.scheduler_address} offers 160 MB per worker"
    ) in finished.stderr


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "DASK_COMPUTE__IN_PROCESS_SECONDS",
            "abc",
            "Dask config compute.in-process-seconds = 'abc' is not valid: "
            "expected a number of seconds >= 0",
        ),
        (
            "DASK_COMPUTE__THREADS",
            "-1",
            "Dask config compute.threads = -1 is not valid: expected a whole "
            "number >= 1, or null for the CPU count",
        ),
        (
            "DASK_COMPUTE__EXECUTION",
            "everywhere",
            "Dask config compute.execution = 'everywhere' is not valid: expected "
            "one of auto, cluster, in-process",
        ),
        (
            "DASK_COMPUTE__CLUSTER__N_WORKERS",
            "0",
            "Dask config compute.cluster.n-workers = 0 is not valid",
        ),
    ],
)
def test_bad_config_values_exit_2_naming_key_value_and_expectation(
    env, variable, value, message
):
    if variable.startswith("DASK_COMPUTE__CLUSTER__"):
        env["DASK_COMPUTE__EXECUTION"] = "cluster"  # so that they are read
    env[variable] = value
    finished = run_cli([COMPUTE, "factorial", "300"], env)
    assert finished.returncode == 2, finished.stderr
    assert f"compute factorial: error: {message}" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_certs_into_an_unwritable_place_exits_2_with_one_error_line(env):
    finished = run_cli([sys.executable, "-m", "cluster", "certs", "/proc/nope"], env)
    assert finished.returncode == 2
    assert finished.stderr.startswith("usage: python -m cluster certs")
    assert finished.stderr.splitlines()[-1] == (
        "python -m cluster certs: error: [Errno 2] No such file or directory: "
        "'/proc/nope'"
    )


def test_digits_answer_at_once_for_any_n(env):
    # Digit counts published for 10**8!, 10**9! and 10**10! (see ANCHORS).
    ns = [10**8, 10**9, 10**10, 7854]
    start = time.monotonic()
    finished = run_cli([COMPUTE, "factorial", *map(str, ns), "--digits"], env)
    seconds = time.monotonic() - start
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [
        "756570557",
        "8565705523",
        "95657055187",
        str(len(str(gmpy2.fac(7854)))),
    ]
    assert finished.stderr == ""
    assert seconds < 30, seconds  # a bound on the wait, not a benchmark


def test_a_factorial_too_large_to_compute_still_gets_its_summary(env):
    finished = run_cli([COMPUTE, "factorial", "10000000000", "30"], env)
    assert finished.returncode == 0, finished.stderr
    status = finished.stderr.splitlines()
    assert status[0].startswith("10000000000! not computed (n = 10000000000 is too ")
    assert status[0].endswith("; its summary line needs no computation")
    assert status[1].startswith("computed 1 factorial in ")
    assert len(status) == 2
    lines = finished.stdout.splitlines()
    # 95,657,055,187 digits, 2,499,999,997 trailing zeros (see ANCHORS).
    assert lines[0].startswith("10000000000! has 95657055187 digits: 232579620567...")
    assert lines[0].endswith(" followed by 2499999997 zeros")
    assert lines[1:] == [summary_line(30)]


@pytest.mark.parametrize("format", ["bin", "hex"])
def test_one_large_n_streams_to_its_file_from_the_workers_chunks(env, tmp_path, format):
    # With in-process-seconds lowered, 3e6! counts as large: it is written from
    # its chunks on the workers, never whole in the command's process.
    env["DASK_COMPUTE__IN_PROCESS_SECONDS"] = "0.1"
    env["DASK_COMPUTE__CHUNK_BYTES"] = "65536"
    env["DASK_COMPUTE__CLUSTER__DASHBOARD_ADDRESS"] = "127.0.0.1:0"
    path = tmp_path / f"f.{format}"
    finished = run_cli(
        [COMPUTE, "factorial", "3000000", "--output", str(path), "--format", format],
        env,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [summary_line(3000000)]
    lines = finished.stderr.splitlines()
    assert len(lines) == 3, finished.stderr
    assert lines[0].startswith("compute: started a local Dask cluster")
    assert lines[1].startswith("computed 1 factorial in ")
    chunks = -(-(gmpy2.fac(3000000).bit_length() + 64) // (65536 * 8))
    assert lines[1].endswith(f", held in {chunks} chunks")
    assert lines[2].startswith(f"wrote 3000000! to {path} (")
    assert read_result(path, format=format) == gmpy2.fac(3000000)
    for word in ("Traceback", "ERROR", "WARNING"):
        assert word not in finished.stderr


def test_one_large_n_the_local_cluster_cannot_hold_is_written_from_here(env, tmp_path):
    # As 10**9! on this machine: with these factors no worker of the local
    # cluster could hold 3e6!, nor spread it; this process computes it lean
    # and writes it, with no cluster started.
    env["DASK_COMPUTE__IN_PROCESS_SECONDS"] = "0.1"
    env["DASK_COMPUTE__MEMORY_FACTOR"] = "1e5"
    path = tmp_path / "f.bin"
    finished = run_cli(
        [COMPUTE, "factorial", "3000000", "--output", str(path), "--format", "bin"],
        env,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == [summary_line(3000000)]
    lines = finished.stderr.splitlines()
    assert lines[0].startswith("computed 1 factorial in ")
    assert lines[0].endswith(" s in this process")
    assert lines[1].startswith(f"wrote 3000000! to {path} (")
    assert len(lines) == 2
    assert read_result(path, format="bin") == gmpy2.fac(3000000)


def stirling_digits(n: int, count: int) -> tuple[str, str]:
    """The digit count of ``n!`` and its first ``count`` digits, for a huge n.

    From Stirling's series to its 1/(360 n**3) term (the next is below
    10**-20000 for n > 10**5000), at a precision that leaves the integer
    part of log10(n!) and 20 more digits of its fraction exact: a method the
    package does not use, so the CLI's figures are not checked against
    themselves.
    """
    digits_of_n = len(gmpy2.mpz(n).digits())
    with gmpy2.context(precision=4 * digits_of_n + 200):
        x = gmpy2.mpfr(n)
        log_factorial = (
            (x + gmpy2.mpfr(0.5)) * gmpy2.log(x)
            - x
            + gmpy2.log(2 * gmpy2.const_pi()) / 2
            + 1 / (12 * x)
            - 1 / (360 * x**3)
        )
        log10 = log_factorial / gmpy2.log(10)
        whole = gmpy2.floor(log10)
        scaled = gmpy2.exp10(log10 - whole + count - 1)
        assert 1e-6 < scaled - gmpy2.floor(scaled) < 1 - 1e-6  # decided
        return (gmpy2.mpz(whole) + 1).digits(), gmpy2.mpz(gmpy2.floor(scaled)).digits()


def test_an_n_of_thousands_of_digits_gets_its_summary_and_digit_count(env):
    # Past Python's 4300 digits for str() and int(); past 10**130, the summary
    # leaves out the last non-zero digits (40 s at 10**300).
    n = 10**5000 + 17
    argument = gmpy2.mpz(n).digits()
    finished = run_cli([COMPUTE, "factorial", argument, "--digits"], env)
    assert finished.returncode == 0, finished.stderr
    digits, leading = stirling_digits(n, 12)
    assert finished.stdout == f"{digits}\n"
    assert finished.stderr == ""
    finished = run_cli([COMPUTE, "factorial", argument], env)
    assert finished.returncode == 0, finished.stderr

    def shown(text: str) -> str:
        return f"{text[:18]}...{text[-18:]} ({len(text)} digits)"

    zeros, power = 0, 5
    while power <= n:
        zeros, power = zeros + n // power, power * 5
    assert finished.stderr.startswith(
        f"{shown(argument)}! not computed (n = {shown(argument)} is too large: "
    )
    assert len(finished.stderr.splitlines()) == 1
    lines = finished.stdout.splitlines()
    assert lines[0] == (
        f"{shown(argument)}! has {shown(digits)} digits: "
        f"{leading}... followed by "
        f"{shown(gmpy2.mpz(zeros).digits())} zeros"
    )
