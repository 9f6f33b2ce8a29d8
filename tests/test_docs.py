"""The docs site: built offline with warnings as errors, its config reference
true to the shipped defaults, and whole in a real browser."""

from __future__ import annotations

import functools
import http.server
import inspect
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse
from urllib.request import urlopen

import jsonschema
import pytest
import yaml
from numpydoc.docscrape import ClassDoc, FunctionDoc

import cluster
import compute
from tests.docs_pages import DOCS

sys.path.insert(0, str(DOCS / "_ext"))
from compute_docs import config_rows, schema_files

PUBLIC = [f"compute.{name}" for name in compute.__all__ if name != "__version__"]
PUBLIC += [f"cluster.{name}" for name in cluster.__all__]
# They only read a client or set up logging: there is nothing to raise.
RAISE_NOTHING = {"cluster.scheduler_address", "cluster.show_status_lines"}


def _leaf_keys(mapping: dict, prefix: str = "") -> set[str]:
    keys = set()
    for name, value in mapping.items():
        key = f"{prefix}.{name}" if prefix else name
        keys |= _leaf_keys(value, key) if isinstance(value, dict) else {key}
    return keys


@pytest.mark.parametrize("defaults_path, schema_path", schema_files())
def test_every_default_is_documented_and_valid(defaults_path, schema_path):
    defaults = yaml.safe_load(defaults_path.read_text())
    schema = yaml.safe_load(schema_path.read_text())
    jsonschema.validate(defaults, schema)
    documented = {key for key, _, description in config_rows(schema, defaults)}
    assert documented == _leaf_keys(defaults)
    assert all(description for _, _, description in config_rows(schema, defaults))


def test_the_schema_refuses_what_the_config_refuses():
    [(defaults_path, schema_path), _] = schema_files()
    defaults = yaml.safe_load(defaults_path.read_text())
    schema = yaml.safe_load(schema_path.read_text())
    defaults["compute"]["execution"] = "elsewhere"
    with pytest.raises(jsonschema.ValidationError, match="'elsewhere' is not one of"):
        jsonschema.validate(defaults, schema)
    defaults["compute"]["execution"] = "auto"
    defaults["compute"]["undocumented-key"] = 1
    with pytest.raises(jsonschema.ValidationError, match="undocumented-key"):
        jsonschema.validate(defaults, schema)


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_documents_its_use(name):
    module, attribute = name.split(".")
    value = getattr(sys.modules[module], attribute)
    doc = ClassDoc(value) if inspect.isclass(value) else FunctionDoc(value)
    assert doc["Summary"], name
    assert doc["Parameters"], f"{name}: no Parameters section"
    assert doc["Examples"], f"{name}: no Examples section"
    if not inspect.isclass(value):
        assert doc["Returns"] or doc["Yields"], f"{name}: no Returns section"
        assert doc["Raises"] or name in RAISE_NOTHING, f"{name}: no Raises section"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    """The docs built as ``make docs`` builds them: offline, ``-W -n``."""
    out = tmp_path_factory.mktemp("docs")
    finished = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "-n", "-q", "-b", "html",
         "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr == ""
    return out / "html"


@pytest.fixture(scope="module")
def site_url(built_site) -> Iterator[str]:
    """The built site served on loopback, as a reader's browser gets it."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class _Ids(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.ids |= {value for key, value in attrs if key == "id" and value}


@functools.cache
def _ids_of(url: str) -> frozenset[str]:
    with urlopen(url, timeout=10) as response:
        assert response.status == 200, url
        parser = _Ids()
        parser.feed(response.read().decode())
    return frozenset(parser.ids)


# Every stylesheet, script and image the page asked for, with how it ended.
RESOURCES_SCRIPT = """
return performance.getEntriesByType('resource').map(
  entry => [entry.name, entry.responseStatus]);
"""
PAGE_SCRIPT = """
return {
  links: Array.from(document.querySelectorAll('a[href]'), a => a.href),
  broken_images: Array.from(document.images).filter(
    image => !(image.complete && image.naturalWidth > 0)).map(image => image.src),
  stylesheets: Array.from(document.styleSheets, sheet => sheet.href).filter(Boolean),
};
"""


@pytest.mark.parametrize("page", ["index.html", "reference/api.html"])
def test_a_page_is_whole_in_chromium(browser, site_url, page):
    browser.get(urljoin(site_url, page))
    assert "compute" in browser.title
    found = browser.execute_script(PAGE_SCRIPT)
    resources = browser.execute_script(RESOURCES_SCRIPT)
    assert resources, "the page loaded no stylesheets or scripts"
    assert [name for name, status in resources if status != 200] == []
    assert all(url.startswith(site_url) for url, _ in resources), resources
    assert found["broken_images"] == []
    assert found["stylesheets"]
    internal = [link for link in found["links"] if link.startswith(site_url)]
    assert len(internal) > 10
    unresolved = []
    for link in internal:
        url, fragment = urldefrag(link)
        if fragment and fragment not in _ids_of(url):
            unresolved.append(link)
        elif not fragment:
            _ids_of(url)  # fetched: 200 or an assertion
    assert unresolved == []


def test_every_public_name_has_an_anchor(browser, site_url):
    browser.get(urljoin(site_url, "reference/api.html"))
    links = browser.execute_script(PAGE_SCRIPT)["links"]
    pages = {urlparse(link).path.rsplit("/", 1)[-1]: link for link in links}
    missing = []
    for name in PUBLIC:
        page = pages.get(f"{name}.html")
        if page is None or name not in _ids_of(urldefrag(page).url):
            missing.append(name)
    assert missing == []
