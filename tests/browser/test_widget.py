"""The web chat widget in a real browser, on a brand's page of another origin, as a customer uses it.

The customer opens the widget, is greeted by the persona, asks in Japanese and watches the reply being written
(with its source as a link), is handed to a person on request, and finds the conversation again after a reload;
an Arabic page runs right to left; text that looks like HTML stays text; a message refused in a surge (``503``
with ``Retry-After``) is sent again and answered; a page the key does not list gets nothing.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx
import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from agent.state import LOCK_PREFIX
from api.widget.sessions import labels
from tests.browser.conftest import HELP_PAGES, WIDGET_KEY, Site

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.integration]

WAIT_S = 60
# Records every text a bot bubble showed while its reply was being written (the nodes keep their text).
WATCH_WRITING = """
const shadow = document.querySelector('[data-polydesk-widget]').shadowRoot;
window.__written = [];
new MutationObserver(records => records.forEach(record => {
  const bubble = record.target;
  if (bubble.classList && bubble.classList.contains('bot') && bubble.getAttribute('aria-busy') === 'true') {
    record.addedNodes.forEach(node => { if (node.nodeType === Node.TEXT_NODE) window.__written.push(node.data); });
  }
})).observe(shadow, {childList: true, subtree: true});
"""


class Widget:
    """The widget on the page, seen through its shadow root."""

    def __init__(self, browser: Any) -> None:
        self.browser = browser

    def wait(self, condition: Any) -> Any:
        return WebDriverWait(
            self.browser, WAIT_S, ignored_exceptions=(StaleElementReferenceException,)
        ).until(lambda _: condition())

    @property
    def shadow(self) -> Any:
        return self.browser.find_element(By.CSS_SELECTOR, "[data-polydesk-widget]").shadow_root

    def all(self, selector: str) -> list[WebElement]:
        found: list[WebElement] = self.shadow.find_elements(By.CSS_SELECTOR, selector)
        return found

    def one(self, selector: str) -> WebElement:
        element: WebElement = self.shadow.find_element(By.CSS_SELECTOR, selector)
        return element

    def open(self) -> None:
        self.wait(lambda: self.all(".launcher"))
        self.one(".launcher").click()

    def greeting(self) -> str:
        return str(self.wait(lambda: next((e.text for e in self.all(".msg.greeting") if e.text), None)))

    def ask(self, text: str) -> WebElement:
        """Send ``text`` (Enter) and wait for the finished reply to it."""
        before = len(self.all(".msg.reply"))
        box = self.one("textarea")
        box.send_keys(text)
        box.send_keys(Keys.ENTER)
        return self.wait(lambda: (lambda replies: replies[before] if len(replies) > before and
                                  replies[before].get_attribute("aria-busy") is None else None)(
                                      self.all(".msg.reply")))


def _japanese(text: str) -> bool:
    return any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in text)


def _arabic(text: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in text)


def test_a_japanese_customer_is_answered_as_the_reply_is_written_and_handed_to_a_person(
        chrome: Any, widget_site: Site) -> None:
    chrome.get(widget_site.page("jp.html"))
    widget = Widget(chrome)
    widget.open()
    assert widget.greeting() == "お問い合わせいただき、誠にありがとうございます。"
    panel = widget.one(".panel")
    assert (panel.get_attribute("lang"), panel.get_attribute("dir")) == ("ja", "ltr")
    assert widget.one("textarea").get_attribute("placeholder") == labels("ja")["message"]
    # The page's own CSS (red, 40px buttons and divs) does not reach into the widget.
    assert widget.one(".msg.greeting").value_of_css_property("color") != "rgba(255, 0, 0, 1)"

    chrome.execute_script(WATCH_WRITING)
    reply = widget.ask("送料はいくらですか？")
    text = reply.text
    assert reply.get_attribute("lang") == "ja" and _japanese(text) and "円" in text, text
    written = chrome.execute_script("return window.__written")
    assert any(piece and len(piece) < len(text) and text.startswith(piece.strip()) for piece in written), written
    links = reply.find_elements(By.CSS_SELECTOR, ".sources a")
    assert links and (links[0].get_attribute("href") or "").startswith(f"{HELP_PAGES}/shipping-returns-ja")
    assert links[0].get_attribute("rel") == "noopener noreferrer" and links[0].get_attribute("target") == "_blank"
    assert widget.one(".log").get_attribute("aria-live") == "polite"

    markup = '<img src=x onerror="window.__pwned=1">'
    widget.ask(markup)
    assert any(bubble.text == markup for bubble in widget.all(".msg.customer"))
    assert widget.all("img") == [] and chrome.execute_script("return window.__pwned") is None

    assert not widget.one(".handoff").is_displayed()
    widget.ask("担当者と話したいです。")
    handoff = widget.wait(lambda: (lambda e: e if e.is_displayed() else None)(widget.one(".handoff")))
    assert handoff.text == labels("ja")["handoff"]

    # A reload continues the same conversation, still with a person.
    turns = len(widget.all(".msg.customer"))
    chrome.refresh()
    widget.open()
    widget.wait(lambda: len(widget.all(".msg.customer")) == turns)
    assert widget.wait(lambda: widget.one(".handoff").is_displayed())


def test_an_arabic_page_runs_right_to_left(chrome: Any, widget_site: Site) -> None:
    chrome.get(widget_site.page("ae.html"))
    widget = Widget(chrome)
    widget.open()
    assert widget.greeting() == "مرحباً بك، وشكراً لتواصلك معنا."
    panel = widget.one(".panel")
    assert (panel.get_attribute("lang"), panel.get_attribute("dir")) == ("ar", "rtl")
    reply = widget.ask("ما هي مدة الإرجاع؟")
    assert reply.get_attribute("lang") == "ar" and reply.get_attribute("dir") == "rtl"
    assert _arabic(reply.text), reply.text
    widget.ask("أريد التحدث مع موظف")
    assert widget.wait(lambda: widget.one(".handoff").is_displayed())
    assert widget.one(".handoff").text == labels("ar")["handoff"]
    assert panel.get_attribute("dir") == "rtl"


def _overloaded(site: Site) -> int:
    metrics = httpx.get(f"{site.polydesk.url}/metrics").text
    found = re.search(r"^polydesk_overloaded_requests_total (\S+)$", metrics, re.MULTILINE)
    return int(float(found.group(1))) if found else 0


@pytest.mark.parametrize("widget_site", [{"answer_concurrency": 1, "answer_queue_ms": 100}], indirect=True)
def test_a_message_refused_in_a_surge_is_sent_again_after_retry_after_and_answered(
        chrome: Any, widget_site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    """One answer at a time, 100 ms of queue. Another customer's message holds the only slot (its conversation is
    busy, and such a wait keeps its slot here): the widget's message is refused with ``503`` and ``Retry-After``,
    then sent again after it, once the slot is free, and answered; the customer never sees an error."""
    monkeypatch.setattr("polydesk.waiting.LEND_AFTER_S", 60.0)
    services, url = widget_site.services, widget_site.polydesk.url
    chrome.get(widget_site.page("jp.html"))
    widget = Widget(chrome)
    widget.open()
    widget.greeting()

    headers = {"Authorization": f"Bearer {WIDGET_KEY}", "Origin": widget_site.shop}
    other = httpx.post(f"{url}/v1/widget/conversations", headers=headers, json={"market": "JP"})
    assert other.status_code == 201, other.text
    busy_id = other.json()["conversation_id"]
    answered: list[httpx.Response] = []
    with services.conversations.lock("tidewell", busy_id):
        holder = threading.Thread(target=lambda: answered.append(httpx.post(
            f"{url}/v1/widget/conversations/{busy_id}/messages", headers=headers,
            json={"message": "返品は何日以内ですか？"}, timeout=60)))
        holder.start()
        try:
            deadline = time.monotonic() + 30
            while services.admission.busy < 1 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert services.admission.busy == 1
            refused_before = _overloaded(widget_site)
            box = widget.one("textarea")
            box.send_keys("送料はいくらですか？")
            box.send_keys(Keys.ENTER)
            while _overloaded(widget_site) == refused_before and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _overloaded(widget_site) == refused_before + 1, "the widget's message was refused once"
            assert widget.all(".msg.reply") == []
        finally:  # the other customer's conversation is free again: their message is answered, the slot freed
            services.conversations.client.delete(f"{LOCK_PREFIX}:tidewell:{busy_id}")
            holder.join(timeout=60)
    assert answered and answered[0].status_code == 200

    reply = widget.wait(lambda: next((e for e in widget.all(".msg.reply") if e.get_attribute("aria-busy") is None),
                                     None))
    assert reply.get_attribute("lang") == "ja" and "円" in reply.text, reply.text
    assert widget.all(".msg.error") == []


def test_a_page_the_key_does_not_list_gets_no_answer(chrome: Any, widget_site: Site) -> None:
    chrome.get(widget_site.stranger("jp.html"))
    widget = Widget(chrome)
    widget.open()
    error = widget.wait(lambda: next(iter(widget.all(".msg.error")), None))
    assert error.is_displayed() and widget.all(".msg.greeting") == []
    console = " ".join(entry["message"] for entry in chrome.get_log("browser"))
    assert "CORS" in console or "403" in console, console
