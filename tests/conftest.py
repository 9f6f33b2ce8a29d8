"""One real LocalCluster of worker processes for the whole session."""

from __future__ import annotations

import dask.config
import pytest
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import SchedulerPlugin

from tests.browser import browser  # noqa: F401 (a fixture for the browser tests)


class GraphCounter(SchedulerPlugin):
    """Counts graphs submitted to the scheduler, to prove nothing was sent."""

    name = "graph-counter"

    def __init__(self) -> None:
        self.graphs = 0

    def update_graph(self, scheduler, **kwargs) -> None:
        self.graphs += 1


@pytest.fixture(scope="session")
def client(no_configured_scheduler):
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster, set_as_default=False) as session_client,
    ):
        session_client.register_plugin(GraphCounter())
        yield session_client


@pytest.fixture(params=["cluster", "in-process"])
def where(request, client) -> dict:
    """Keyword arguments that run a call on the session cluster or on threads here."""
    if request.param == "cluster":
        yield {"client": client}
    else:
        with dask.config.set({"compute.execution": "in-process"}):
            yield {}


@pytest.fixture
def graphs_submitted(client):
    """A function returning how many graphs the scheduler has received."""

    def count() -> int:
        return client.run_on_scheduler(
            lambda dask_scheduler: dask_scheduler.plugins["graph-counter"].graphs
        )

    return count


@pytest.fixture(scope="module")
def available() -> None:
    """Network namespaces can be made here; else the test fails with one line."""
    from tests import netns

    try:
        netns.check_available()
    except netns.NetnsUnavailable as reason:
        pytest.fail(str(reason), pytrace=False)
