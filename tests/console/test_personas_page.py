"""The console's personas and markets page and its playground (in-process, the demo brand, real Redis/Qdrant)."""

from __future__ import annotations

import re

import pytest

from tests.api.conftest import ApiHarness
from tests.console.conftest import Console, ConsoleFactory

pytestmark = pytest.mark.integration


@pytest.fixture
def content(api: ApiHarness, console_as: ConsoleFactory) -> Console:
    return console_as(api, "content")


def _card(html: str, code: str) -> str:
    match = re.search(rf'<section class="card market-card" id="market-{code}".*?</section>', html, re.S)
    assert match, f"no card for {code}"
    return match.group(0)


def _ask(console: Console, message: str, market: str, channel: str = "web", **fields: str) -> tuple[int, str]:
    response = console.form("/console/personas/playground",
                            {"message": message, "market": market, "channel": channel, **fields})
    return response.status_code, response.text


def test_every_market_is_listed_with_its_languages_and_persona_per_channel(content: Console) -> None:
    response = content.get("/console/personas")
    assert response.status_code == 200
    html = response.text
    assert html.count('class="card market-card"') == 16
    for code, language in (("DE", "de"), ("JP", "ja"), ("TH", "th"), ("SA", "ar"), ("AE", "ar")):
        card = _card(html, code)
        assert f'data-language="{language}"' in card
        assert f'href="/console/personas/markets/{code}"' in card
        assert f'<a href="#market-{code}" data-market="{code}">' in html
    assert 'data-persona="jp-keigo"' in _card(html, "JP")
    assert 'data-notice="gdpr-privacy"' in _card(html, "DE")
    assert "Verbraucherzentrale" in _card(html, "DE")
    thai = _card(html, "TH")  # chat apps and the web are answered by different personas
    assert re.search(r'data-channels="[^"]*whatsapp[^"]*" data-persona="warm-quick"', thai)
    assert re.search(r'data-channels="web email" data-persona="apac-courteous"', thai)
    assert '<span dir="auto">المملكة العربية السعودية</span>' in _card(html, "SA")


def test_the_market_filter_shows_one_market(content: Console) -> None:
    html = content.get("/console/personas?market=jp").text
    assert html.count('class="card market-card"') == 1 and 'id="market-JP"' in html
    assert '<option value="JP" selected>' in html
    assert 'id="markets-count" role="status"' in html


def test_one_market_in_full(content: Console) -> None:
    response = content.get("/console/personas/markets/de")
    assert response.status_code == 200
    html = response.text
    assert 'id="market" data-market="DE"' in html
    assert 'data-language="de"' in html and "Europe/Berlin" in html
    assert 'data-days="1 2 3 4 5"' in html and "08:00" in html and "18:00" in html
    assert 'data-date="10-03"' in html
    assert "Sie" in html and "Datenschutzhinweis" in html
    assert re.search(r'data-channels="web email whatsapp messenger line telegram" data-persona="de-formal"', html)
    assert re.search(r'<tr data-intent="legal_threat" data-language="de">.*?Verbraucherzentrale', html, re.S)
    assert 'data-threshold="sentiment"' in html and 'data-route="legal_threat"' in html
    arabic = content.get("/console/personas/markets/SA").text
    assert re.search(r'<tr data-language="ar">.*?lang="ar" dir="auto"', arabic, re.S)


def test_an_unknown_market_page_is_a_404(content: Console) -> None:
    response = content.get("/console/personas/markets/XX")
    assert response.status_code == 404
    assert 'id="error-code">not_found<' in response.text


def test_the_playground_form(content: Console) -> None:
    html = content.get("/console/personas/playground?market=TH&channel=line").text
    for field in ("playground-message", "playground-market", "playground-channel", "playground-persona",
                  "playground-language"):
        assert f'<label for="{field}">' in html and f'id="{field}"' in html
    assert '<option value="TH" selected>' in html
    assert 'id="playground-routed" data-persona="warm-quick"' in html
    assert 'name="csrf" value="' in html and 'data-module="personas"' in html


def test_a_german_question_in_germany(content: Console) -> None:
    status, html = _ask(content, "Wie lange habe ich Zeit für eine Rücksendung?", "DE", "email")
    assert status == 200, html
    assert 'data-status="answered"' in html and 'data-language="de"' in html and 'data-persona="de-formal"' in html
    assert re.search(r'id="reply-text" class="customer-text reply-text" dir="auto" lang="de">[^<]*30 Tage', html)
    assert re.search(r'<tr data-document-id="[^"]+" data-score="[0-9.]+">', html)
    assert 'data-stage="total"' in html and 'id="reply-timings-chart"' in html
    assert 'id="reply-escalation" data-escalate="false"' in html


def test_an_arabic_question_in_saudi_arabia(content: Console) -> None:
    status, html = _ask(content, "ما هي مدة الإرجاع؟", "SA", "whatsapp")
    assert status == 200, html
    assert 'data-language="ar"' in html and 'data-persona="gulf-respectful"' in html
    assert re.search(r'id="reply-text" class="customer-text reply-text" dir="auto" lang="ar">', html)
    assert "15" in html
    assert re.search(r'<tr data-document-id="[^"]+" data-score="[0-9.]+">', html)
    assert '<span class="hint">SA · ar</span>' in html  # the cited chunk is the Saudi Arabic one


def test_a_japanese_question_in_japan(content: Console) -> None:
    status, html = _ask(content, "返品は何日以内にできますか？", "JP", "line")
    assert status == 200, html
    assert 'data-language="ja"' in html and 'data-persona="jp-keigo"' in html
    assert re.search(r'lang="ja">[^<]*8日', html)
    assert 'data-document-id="' in html


def test_a_chosen_persona_answers(content: Console) -> None:
    status, html = _ask(content, "Berapa lama pengiriman ke Jakarta?", "ID", "web", persona_id="warm-quick")
    assert status == 200, html
    assert 'data-persona="warm-quick"' in html and 'data-language="id"' in html


def test_an_escalation_keyword_previews_a_handoff(content: Console) -> None:
    status, html = _ask(content, "Ich möchte bitte mit einem echten Menschen sprechen.", "DE", "email")
    assert status == 200, html
    assert re.search(r'id="reply-escalation" data-escalate="true" data-queue="support" data-reason="[a-z_]+"', html), \
        re.search(r'<div id="reply-escalation".*?</div>', html, re.S)
    legal = _ask(content, "Ich werde mich an die Verbraucherzentrale wenden.", "DE")[1]
    assert 'data-escalate="true" data-queue="support_senior"' in legal


@pytest.mark.parametrize(("market", "persona", "status", "code"), [
    ("XX", "", 404, "not_found"),
    ("12345", "", 422, "validation_error"),
    ("DE", "no-such-persona", 404, "not_found"),
])
def test_a_refused_preview_shows_its_code_and_words(content: Console, market: str, persona: str, status: int,
                                                     code: str) -> None:
    got, html = _ask(content, "Hallo", market, persona_id=persona)
    assert got == status
    assert f'id="playground-error" data-code="{code}"' in html and f'id="error-code">{code}<' in html
    assert 'id="error-sentence"' in html and 'id="error-message"' in html
    assert 'name="message" dir="auto"' in html and ">Hallo</textarea>" in html  # the form keeps what was asked


def test_an_unknown_channel_is_refused(content: Console) -> None:
    status, html = _ask(content, "Hello", "US", "carrier-pigeon")
    assert status == 422 and 'data-code="validation_error"' in html


def test_the_playground_needs_the_csrf_token_and_a_content_key(api: ApiHarness, content: Console,
                                                                console_as: ConsoleFactory) -> None:
    refused = content.post("/console/personas/playground", data={"message": "Hi", "market": "US"})
    assert refused.status_code == 403 and "csrf_failed" in refused.text
    agent = console_as(api, "agent")
    assert agent.get("/console/personas").status_code == 403
    admin = console_as(api, "admin")
    assert admin.get("/console/personas/markets/JP").status_code == 200


def test_the_page_in_chinese(content: Console) -> None:
    html = content.get("/console/personas/playground", headers={"Accept-Language": "zh-CN"}).text
    assert "角色试用区" in html
    markets = content.get("/console/personas/markets/TH", headers={"Accept-Language": "zh-CN"}).text
    assert "各渠道的角色" in markets and "周一" in markets
