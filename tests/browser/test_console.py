"""The web console in a real browser (headless Chromium), as a content editor and a brand manager use it.

A content editor signs in, uploads a file and watches it reach "added", finds its chunks, asks in the playground
(the reply cites the file), and deletes it; a connector key is refused at sign-in; the outcomes page shows the
numbers ``GET /v1/analytics/summary`` returns for conversations sent through the API; the UI switches to Chinese;
a phone-width page still shows its navigation. A screenshot of every page goes to ``bench/results/console/``
(a CI artefact).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from api.app import create_app
from api.auth import ApiKey
from api.runtime import Runtime
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings
from tests.api.conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

WAIT_S = 90
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "results" / "console"
KEYS = {role: f"pd_browser_console_{role}_key" for role in ("content", "admin", "connector")}
POLICY = ("# Versand nach Deutschland\n\nPakete nach Deutschland versenden wir mit DHL. Die Lieferung dauert zwei bis "
          "drei Werktage, ab 50 Euro ist der Versand kostenlos. Rücksendungen sind 30 Tage lang kostenlos.\n")
MESSAGES = [("DE", "Wie lange dauert der Versand nach Deutschland?"), ("JP", "配送にはどのくらいかかりますか？"),
            ("AE", "أريد التحدث مع موظف الآن من فضلك"), ("BR", "Quanto tempo demora a entrega?"),
            ("TH", "ขอคุยกับพนักงานหน่อยครับ")]


@pytest.fixture
def console_site(embedder: Embedder, open_runtime: Callable[[KnowledgeIndex, Settings], Runtime],
                 live_server: Callable[[Any], LiveServer], tmp_path: Path) -> Iterator[LiveServer]:
    settings = Settings(data_dir=tmp_path / "polydesk", _env_file=None)  # type: ignore[call-arg]
    index = KnowledgeIndex.open(settings, embedder=embedder)
    runtime = open_runtime(index, settings)
    keys = [ApiKey(key=SecretStr(key), tenant="tidewell", role=role) for role, key in KEYS.items()]  # type: ignore[arg-type]
    app = create_app(settings, runtime=runtime, keys=keys, background=True)
    try:
        yield live_server(app)
    finally:
        warm = app.state.services.warm  # the warm-up answers dry runs on the index: let it end before closing
        if warm is not None:
            warm.wait(120)
        runtime.close()
        index.close()


class Page:
    def __init__(self, browser: Any, site: LiveServer) -> None:
        self.browser, self.site = browser, site
        SHOTS.mkdir(parents=True, exist_ok=True)

    def open(self, path: str) -> None:
        self.browser.get(self.site.url + path)

    def wait(self, condition: Callable[[], Any]) -> Any:
        return WebDriverWait(
            self.browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda _: condition())

    def one(self, selector: str) -> WebElement:
        element: WebElement = self.browser.find_element(By.CSS_SELECTOR, selector)
        return element

    def all(self, selector: str) -> list[WebElement]:
        found: list[WebElement] = self.browser.find_elements(By.CSS_SELECTOR, selector)
        return found

    def shot(self, name: str) -> None:
        self.browser.save_screenshot(str(SHOTS / f"{name}.png"))

    def sign_in(self, key: str) -> None:
        self.open("/console/login")
        self.one("#key").send_keys(key)
        self.one("#sign-in").click()

    def sign_out(self) -> None:
        self.one("#sign-out").click()
        self.wait(lambda: self.all("#sign-in"))


def test_a_content_editor_uploads_finds_asks_and_deletes(chrome: Any, console_site: LiveServer,
                                                         tmp_path: Path) -> None:
    page = Page(chrome, console_site)
    page.sign_in(KEYS["connector"])
    refusal = page.wait(lambda: page.all("[role=alert]"))  # the form's answer: the login page again, with why
    assert "/console/login" in chrome.current_url and refusal[0].text
    page.shot("login-refused")

    page.sign_in(KEYS["content"])
    page.wait(lambda: chrome.current_url.endswith("/console/knowledge"))
    page.shot("knowledge-empty")
    policy = tmp_path / "versand-de.md"
    policy.write_text(POLICY, encoding="utf-8")
    page.one("#upload-market").send_keys("DE")
    page.one("#upload-files").send_keys(str(policy))
    page.one("#upload-submit").click()
    page.wait(lambda: any(row.get_attribute("data-state") == "added" for row in page.all("tr.job-file")))
    page.shot("knowledge-job")

    page.open("/console/knowledge?q=versand")
    rows = page.wait(lambda: page.all("tr.document[data-document-id='versand-de.md']"))
    rows[0].find_element(By.CSS_SELECTOR, "a").click()
    chunks = page.wait(lambda: page.all("#chunks li.chunk"))
    assert any("DHL" in chunk.text for chunk in chunks)
    page.shot("knowledge-document")

    page.open("/console/personas/playground")
    page.one("#playground-message").send_keys("Wie lange dauert der Versand nach Deutschland?")
    Select(page.one("#playground-market")).select_by_value("DE")
    page.one("#playground-submit").click()
    reply = page.wait(lambda: page.all("#reply-text"))
    assert reply[0].text.strip()
    assert any(c.get_attribute("data-document-id") == "versand-de.md"
               for c in page.all("#reply-citations tr[data-document-id]"))
    page.shot("personas-playground")
    page.open("/console/personas")
    page.shot("personas")

    page.open("/console/knowledge/documents/versand-de.md")
    page.one("#delete-submit").click()
    alert = chrome.switch_to.alert
    alert.accept()
    page.wait(lambda: page.all("#status-message"))
    assert not page.all("tr.document[data-document-id='versand-de.md']")
    page.sign_out()


def test_outcomes_show_the_api_numbers_and_the_ui_speaks_chinese(chrome: Any, console_site: LiveServer) -> None:
    with httpx.Client(base_url=console_site.url, timeout=60) as client:
        for market, message in MESSAGES:
            response = client.post("/v1/answer", headers={"Authorization": f"Bearer {KEYS['connector']}"},
                                   json={"message": message, "market": market, "channel": "web"})
            assert response.status_code == 200, response.text
        summary = client.get("/v1/analytics/summary", headers={"Authorization": f"Bearer {KEYS['admin']}"}).json()
    page = Page(chrome, console_site)
    page.sign_in(KEYS["admin"])
    page.wait(lambda: page.all("#totals"))
    totals = page.one("#totals")
    assert int(totals.get_attribute("data-conversations") or -1) == summary["totals"]["conversations"] == len(MESSAGES)
    assert int(totals.get_attribute("data-handoffs") or -1) == summary["totals"]["handoffs"] >= 1
    for code, numbers in summary["markets"].items():
        row = page.one(f"#markets tr[data-market='{code}']")
        assert int(row.get_attribute("data-conversations") or -1) == numbers["conversations"]
        assert int(row.get_attribute("data-messages") or -1) == numbers["messages"]
    assert page.all("#daily-chart svg")
    page.shot("outcomes")

    page.open("/console/desk")
    rows = page.wait(lambda: page.all("#inbox-rows tr[data-conversation-id]"))
    assert len(rows) == summary["totals"]["handoffs"]
    page.shot("desk")
    arabic = next(row for row in rows if row.find_element(By.CSS_SELECTOR, "td[data-field=market]").text == "AE")
    arabic.find_element(By.CSS_SELECTOR, "a.open-conversation").click()
    original = page.wait(lambda: page.all(".turn-original .customer-text"))[0]
    assert original.get_attribute("dir") == "auto"
    assert chrome.execute_script("return getComputedStyle(arguments[0]).direction", original) == "rtl"
    page.shot("desk-conversation")
    page.open("/console/evals")
    page.shot("evals")

    page.open("/console/outcomes")
    page.one("a[data-lang='zh']").click()
    page.wait(lambda: "服务成效" in page.one("h1").text)
    assert page.one("html").get_attribute("lang") == "zh-Hans"
    assert "知识库" in page.one("header nav").text
    page.shot("outcomes-zh")

    chrome.set_window_size(390, 844)
    page.open("/console/outcomes")
    page.wait(lambda: page.all("#totals"))
    assert page.one("header nav").is_displayed()
    width = chrome.execute_script("return document.documentElement.scrollWidth")
    assert width <= 420, f"the page is {width} px wide on a phone"
    page.shot("outcomes-phone")
    page.one("a[data-lang='en']").click()
    page.wait(lambda: "Outcomes" in page.one("h1").text)
