"""The dashboard, in real headless Chromium, shows our stage names while we run."""

from __future__ import annotations

import time
from pathlib import Path

import gmpy2

import compute

ARTIFACTS = Path(__file__).parent.parent / "test-artifacts"

# Every value of every "name" column in the page's Bokeh documents: the task
# stream and progress plots hold task prefixes there.
STAGE_NAMES_SCRIPT = """
const names = new Set();
for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
  const models = doc.all_models ?? doc._all_models.values();
  for (const model of models) {
    const data = model.data;
    if (data && data.name) {
      for (const value of data.name) names.add(String(value));
    }
  }
}
return Array.from(names);
"""


def test_status_page_shows_stage_names_during_a_large_factorial(client, browser):
    n = 2 * 10**7
    future = client.compute(compute.factorial_delayed(n))
    link = client.dashboard_link
    assert link.startswith("http://127.0.0.1:")
    browser.get(link)
    seen: set[str] = set()
    deadline = time.monotonic() + 90
    while (
        time.monotonic() < deadline and not {"prime-power-product", "multiply"} <= seen
    ):
        seen.update(browser.execute_script(STAGE_NAMES_SCRIPT))
        time.sleep(0.5)
    ARTIFACTS.mkdir(exist_ok=True)
    running = ARTIFACTS / "dashboard-status-running.png"
    assert browser.save_screenshot(str(running))
    assert {"prime-power-product", "multiply"} <= seen, seen
    assert "lambda" not in seen
    assert future.result(timeout=120) == gmpy2.fac(n)
    time.sleep(2)  # the task stream draws finished tasks on its next update
    finished = ARTIFACTS / "dashboard-status-finished.png"
    assert browser.save_screenshot(str(finished))
    for screenshot in (running, finished):
        assert screenshot.stat().st_size > 10_000
