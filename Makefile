# Everything runs from a local virtual environment, created on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: venv browser slurm demo docs test lint format bench bench-huge bench-products bench-resume bench-scale cluster-sim hpc-sim clean

# COMPUTE_TEST_NETNS=0 leaves out the network-namespace tests (they need root),
# the SLURM ones among them.
NETNS_TESTS := $(if $(filter 0,$(COMPUTE_TEST_NETNS)),--ignore=tests/test_netns.py --ignore=tests/test_slurm.py,)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -qq --upgrade pip
	$(BIN)/python -m pip install -qq -e '.[test]'
	touch $(STAMP)

# -qq: pip still shows errors; at -q it also relays setuptools' note on every
# editable install ("BuildBackendWarning: Editable installation"), on stderr.
$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install -qq -e '.[test,bench]'
	touch $(BENCH_STAMP)

venv: $(STAMP)

## browser: Debian's headless Chromium and its driver, for the dashboard test.
## Installed with apt-get when run as root; otherwise a one-line instruction.
browser:
	@if ! command -v tc >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's iproute2 (network-namespace tests)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2 >/dev/null; \
	fi
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's chromium and chromium-driver (dashboard test)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; \
	else \
		echo "make test needs Chromium for the dashboard test: run 'sudo apt-get install chromium chromium-driver' (Debian), then make test again" >&2; \
		exit 1; \
	fi

## slurm: Debian's SLURM daemons and munge, for the SLURM tests (make test) and
## make hpc-sim. Installed with apt-get when run as root; nothing is started
## here (the tests start their own, on namespaced hosts).
slurm:
	@if command -v slurmctld >/dev/null && command -v slurmd >/dev/null && \
		command -v sbatch >/dev/null && command -v munged >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's slurmctld, slurmd, slurm-client and munge (SLURM tests)"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get update -qq && \
		apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null; \
	elif [ "$(COMPUTE_TEST_NETNS)" != 0 ]; then \
		echo "make test needs SLURM for its SLURM tests: run 'sudo apt-get install slurmctld slurmd slurm-client munge' (Debian), or COMPUTE_TEST_NETNS=0 to leave them out" >&2; \
		exit 1; \
	fi

## demo: the seed notebook's factorials [5310, 5263, 7854] on a local cluster
demo: $(STAMP)
	$(BIN)/python examples/seed_factorials.py

## docs: the docs site, offline, warnings as errors; open docs/_build/html/index.html
docs: $(STAMP)
	rm -rf docs/reference/generated
	$(BIN)/sphinx-build -W -n -q -b html docs docs/_build/html

## test: lint (ruff, mypy), format check, the docs and the whole suite
test: lint docs browser slurm $(STAMP)
	$(BIN)/python -m pytest --durations=15 $(NETNS_TESTS)

## bench: ours against the anchors, interleaved; writes benchmarks/results/ (~15 min)
## (BENCH_QUICK=1 make bench: a short smoke run into benchmarks/results/quick/)
bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.run

## bench-huge: 10**9! with no configuration against gmpy2.fac(10**9), time and the
## peak memory of every process (~20 min); writes benchmarks/results/huge.json.
## N=3e9: that factorial to a file beyond this machine's memory, capped at 80%
## of it (root, for the memory cgroup); writes benchmarks/results/huge-3e9.json.
## WORKER_MEMORY=4.05GB: on workers of that memory started by the bench, with the
## stage profile (10**9! then has the share of its workers that 3e9! has here);
## STOP_AFTER=S ends a run after S seconds and records it as stopped.
bench-huge: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.huge $(if $(N),--n $(N)) \
		$(if $(WORKER_MEMORY),--worker-memory $(WORKER_MEMORY)) \
		$(if $(STOP_AFTER),--stop-after $(STOP_AFTER))

## bench-products: one product of two 400 Mbit numbers cut as Toom-k over chunks
## (the package's) and as a Fermat-ring FFT over K pieces (a prototype), against
## one gmpy2 multiply, on one thread (~6 min); writes
## benchmarks/results/product-methods.json and .png
bench-products: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.product_methods

## bench-resume: 3e8! to a file killed at 3 random points and resumed, against an
## uninterrupted run, with and without checkpoints (~30 min); writes
## benchmarks/results/resume.json and resume.png (RESUME_N=, RESUME_KILLS=)
bench-resume: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.resume

## cluster-sim: a scheduler and HOSTS workers (2), each a host with its own network
## namespace on a private bridge (root); RATE=1gbit limits the links. With
## DILATION=9 it is the scale model: each host 1/9 of a core and RATE/9 (see
## make bench-scale). Ctrl-C ends it.
cluster-sim: $(STAMP)
	HOSTS=$(HOSTS) DILATION=$(DILATION) RATE=$(RATE) $(BIN)/python -m tests.netns

## hpc-sim: a real SLURM (slurmctld, two slurmd, munge) on namespaced hosts, with
## a client host for sbatch and your script (root); NODES=3 for more. Ctrl-C ends it.
hpc-sim: slurm $(STAMP)
	NODES=$(NODES) $(BIN)/python -m tests.slurm

## bench-scale: one n and batches on a time-dilated scale model of 1 to 16 hosts
## (root, ~40 min); writes benchmarks/results/scale.json and scale.png
bench-scale: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks.scale

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy compute cluster

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache *.egg-info build docs/_build docs/reference/generated
