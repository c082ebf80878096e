"""Headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by Selenium) on a brand's pages.

- ``chrome``: the browser, on the system's chromium and chromedriver only (Selenium Manager never downloads
  anything). Missing: the tests fail with how to install them when ``CI=true``, else they are skipped.
- ``widget_site``: polydesk served by uvicorn on a loopback port, on an index holding the demo brand's Japanese
  and Arabic shipping pages as a crawler records a brand's help pages (each chunk's ``source`` is the page's URL,
  so a citation is a link); the brand's shop pages on another loopback origin, each embedding ``/widget.js`` with
  the shop's widget key; and a page on a third origin, which the key does not list.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from api.app import create_app
from api.auth import ApiKey
from api.deps import Services
from api.runtime import Runtime
from ingestion.pipeline import Ingestor
from ingestion.sources import SourceOptions
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings
from tests.api.conftest import LiveServer, live_server  # noqa: F401  (the fixture, used by widget_site)
from tests.conftest import DEMO_KNOWLEDGE

WIDGET_KEY = "pd_widget_tidewell_browser_key"
HELP_PAGES = "https://help.tidewell.example"
INSTALL = ("apt-get install -y chromium chromium-driver (as root; scripts/setup.sh does it), or put chromium and "
           "chromedriver on PATH")


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing = " and ".join(name for name, path in (("chromium", chromium), ("chromedriver", driver)) if not path)
        message = f"the browser tests need {missing}: {INSTALL}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return chromium, driver


@pytest.fixture
def chrome(browser_binaries: tuple[str, str]) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = browser_binaries
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield browser
    finally:
        browser.quit()


@dataclass
class Site:
    """Where the test pages are: ``page(name)`` on the shop's origin, ``stranger(name)`` on an unlisted one."""

    polydesk: LiveServer
    shop: str
    stranger_origin: str
    services: Services

    def page(self, name: str) -> str:
        return f"{self.shop}/{name}"

    def stranger(self, name: str) -> str:
        return f"{self.stranger_origin}/{name}"


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def _serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="shop-pages", daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def _page(api: str, market: str, title: str) -> str:
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>\n'
            "<style>button, div { font-size: 40px; color: red; }</style></head>\n"
            f"<body><h1>{title}</h1>\n"
            f'<script src="{api}/widget.js" data-key="{WIDGET_KEY}" data-market="{market}" async></script>\n'
            "</body></html>\n")


@pytest.fixture(scope="module")
def help_center(embedder: Embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeIndex]:
    """The demo brand's Japanese and Arabic shipping pages, each chunk's source the page's public URL."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("help-center"), _env_file=None)  # type: ignore[call-arg]
    index = KnowledgeIndex.open(settings, embedder=embedder)
    policies = DEMO_KNOWLEDGE / "policies"
    report = Ingestor(index=index, settings=settings).ingest([policies / "JP", policies / "AE"],
                                                             SourceOptions(tenant="tidewell"))
    for result in (r for r in report.files if r.status == "added"):
        record = index.get_document("tidewell", result.document_id)
        assert record is not None, result
        url = f"{HELP_PAGES}/{Path(result.document_id).stem}"
        chunks = [chunk.model_copy(update={"version": record.version + 1, "source": url})
                  for chunk in index.get_chunks("tidewell", record.document_id)]
        index.write_document(record.model_copy(update={"version": record.version + 1, "source": url}), chunks,
                             index.encode([chunk.text for chunk in chunks]))
    yield index
    index.close()


@pytest.fixture
def widget_site(help_center: KnowledgeIndex, open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                live_server: Callable[[Any], LiveServer],  # noqa: F811
                tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Site]:
    """The site; polydesk's settings may be set by indirect parametrization (``request.param``, a dict)."""
    pages, strangers = tmp_path / "shop", tmp_path / "elsewhere"
    pages.mkdir()
    strangers.mkdir()
    shop_server, shop = _serve_folder(pages)
    stranger_server, stranger = _serve_folder(strangers)
    settings = Settings(data_dir=tmp_path / "polydesk", _env_file=None,  # type: ignore[call-arg]
                        **getattr(request, "param", {}))
    runtime = open_runtime(help_center, settings)
    key = ApiKey(key=SecretStr(WIDGET_KEY), tenant="tidewell", role="widget", allowed_origins=[shop])
    app = create_app(settings, runtime=runtime, keys=[key], background=False)
    polydesk = live_server(app)
    for folder in (pages, strangers):
        for name, market, title in (("jp.html", "JP", "Tidewell 日本"), ("ae.html", "AE", "Tidewell الإمارات")):
            (folder / name).write_text(_page(polydesk.url, market, title), encoding="utf-8")
    try:
        yield Site(polydesk=polydesk, shop=shop, stranger_origin=stranger, services=app.state.services)
    finally:
        for server in (shop_server, stranger_server):
            server.shutdown()
            server.server_close()
        runtime.close()
