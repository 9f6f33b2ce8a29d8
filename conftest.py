"""Session-wide set-up shared by the tests and the doctests of the packages."""

from __future__ import annotations

import dask.config
import pytest

from cluster import shared


@pytest.fixture(scope="session", autouse=True)
def no_configured_scheduler():
    """Tests choose their scheduler explicitly, whatever the caller's config.

    Doctests use the shared client, as a user would; it is closed here, while
    pytest's output streams are still open, rather than at interpreter exit.
    """
    with dask.config.set({"scheduler-address": None}):
        yield
    shared.close_shared()
