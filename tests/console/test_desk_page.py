"""The console's desk page (in-process, the demo brand, real Redis/Qdrant): customers writing in Arabic, Japanese,
German and Thai ask the bot for a person; an agent reading Chinese and English sees them in the inbox, reads the
Arabic one beside its (unavailable: no engine offline) translation, claims it, notes, previews and sends a reply
and releases it; a second agent is told it came too late; other roles and tenants see nothing."""

from __future__ import annotations

import html as markup
import re
from typing import Any

import pytest

from api.console.sessions import COOKIE
from tests.api.conftest import ApiHarness, agent_key
from tests.console.conftest import Console, ConsoleFactory, sign_in

pytestmark = pytest.mark.integration

ARABIC = ("أريد التحدث مع موظف خدمة العملاء من فضلك", "SA")
JAPANESE = ("人間のオペレーターと話したいです。", "JP")
GERMAN = ("Ich möchte mit einem Menschen sprechen, wie lange dauert der Versand?", "DE")
THAI = ("ขอคุยกับพนักงานค่ะ", "TH")
ARABIC_REPLY = "شكرا لتواصلك معنا. سأتابع طلبك الآن وأرد عليك خلال ساعة."
CHINESE_REPLY = "您好，我马上为您查看订单，一小时内回复您。"


def handed_off(api: ApiHarness, message: str, market: str) -> str:
    """A conversation the real pipeline handed to a person (the customer asked for one); its id."""
    reply = api.ask(message, market=market)
    assert reply["escalation"]["escalate"] is True, reply
    conversation_id: str = reply["conversation_id"]
    return conversation_id


def agent_console(harness: ApiHarness, agent_id: str) -> Console:
    """A session signed in with a tidewell desk agent's own key (``DESK_AGENTS``)."""
    response = sign_in(harness, agent_key(agent_id))
    assert response.status_code == 303 and response.headers["location"] == "/console/desk", response.text
    console = Console(harness=harness, session=response.cookies[COOKIE], csrf="")
    page = console.get("/console/desk")
    assert page.status_code == 200, page.text
    console.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return console


@pytest.fixture(scope="module")
def conversations(api: ApiHarness) -> dict[str, str]:
    return {language: handed_off(api, *case) for language, case in
            (("ar", ARABIC), ("ja", JAPANESE), ("de", GERMAN), ("th", THAI))}


@pytest.fixture
def mei(api: ApiHarness) -> Console:
    return agent_console(api, "mei")


def row(html: str, conversation_id: str) -> str:
    match = re.search(rf'<tr data-conversation-id="{re.escape(conversation_id)}".*?</tr>', html, re.S)
    assert match, f"no inbox row for {conversation_id}"
    return match.group(0)


def element(html: str, element_id: str) -> str:
    """The element with ``element_id`` up to its first closing tag of the same name (enough for these checks)."""
    match = re.search(rf'<(\w+)[^>]*\bid="{element_id}".*?</\1>', html, re.S)
    assert match, f"no #{element_id}"
    return match.group(0)


def turns(html: str) -> list[str]:
    return re.findall(r'<li class="turn".*?</li>', html, re.S)


def page_of(console: Console, conversation_id: str, **headers: Any) -> str:
    response = console.get(f"/console/desk/conversations/{conversation_id}", headers=headers)
    assert response.status_code == 200, response.text
    return response.text


def followed(console: Console, response: Any, done: str) -> str:
    """A 303 back to the conversation that says ``done``; the page it leads to."""
    assert response.status_code == 303, response.text
    assert response.headers["location"].endswith(f"?done={done}")
    page = console.get(response.headers["location"])
    assert page.status_code == 200 and f'data-done="{done}"' in page.text
    return page.text


def test_the_inbox_shows_each_handoff_with_its_language_reason_and_last_message(
        api: ApiHarness, mei: Console, conversations: dict[str, str]) -> None:
    response = mei.get("/console/desk")
    assert response.status_code == 200
    page = response.text
    assert 'id="desk-inbox" data-module="desk"' in page and 'src="/console/static/console.js"' in page
    for language, (message, market) in (("ar", ARABIC), ("ja", JAPANESE), ("de", GERMAN), ("th", THAI)):
        found = row(page, conversations[language])
        assert 'data-state="waiting"' in found and 'data-priority="normal"' in found
        assert f'<td data-field="market" data-label="Market">{market}</td>' in found
        assert f'<span class="label">{language}</span>' in found
        assert "the customer asked for a person" in found  # the reason in words
        assert f'<span class="customer-text" dir="auto" lang="{language}">{markup.escape(message)}</span>' in found
        assert re.search(r'data-field="waiting"[^>]*>\d+ (s|min)<', found)
    stats = element(page, "desk-stats")
    assert re.search(r'data-stat="open"><b>(\d+)</b>', stats) and 'data-stat="median-first-response"' in stats
    assert int(re.search(r'data-stat="waiting"><b>(\d+)</b>', stats).group(1)) >= 4  # type: ignore[union-attr]

    mine = mei.get("/console/desk?state=mine&queue=").text  # nothing claimed yet by this agent
    assert '<option value="mine" selected>' in mine
    assert all(f'data-conversation-id="{c}"' not in mine for c in conversations.values())
    assert 'id="inbox-empty" class="card">' in mine or "data-conversation-id" in mine
    assert mei.get("/console/desk?state=everything").status_code == 422

    polled = mei.get("/console/desk.json?state=waiting")
    assert polled.status_code == 200 and polled.headers["content-type"].startswith("application/json")
    items = {item["conversation_id"]: item for item in polled.json()["items"]}
    assert items[conversations["ja"]]["preview"] == JAPANESE[0] and items[conversations["ja"]]["language"] == "ja"
    assert polled.json()["stats"]["waiting"] >= 4


def test_an_agent_takes_an_arabic_conversation_from_claim_to_release(
        api: ApiHarness, mei: Console, conversations: dict[str, str]) -> None:
    conversation_id = conversations["ar"]
    path = f"/console/desk/conversations/{conversation_id}"
    page = page_of(mei, conversation_id)
    assert 'data-state="waiting"' in page and 'id="claim-form"' in page and 'id="reply-form"' not in page
    customer = turns(page)[0]
    assert 'data-role="customer" data-language="ar"' in customer
    assert f'<p class="customer-text" dir="auto" lang="ar">{ARABIC[0]}</p>' in customer  # the original, as written
    # Beside it, the translation into Chinese: no engine offline, so the flag says so in words.
    assert '<div class="turn-translation" data-quality="unavailable">' in customer
    assert "In your language (zh)" in customer and "Translation unavailable" in customer
    assert "only the original is shown" in customer
    assert 'data-reason="customer_request"' in element(page, "handoff")

    page = followed(mei, mei.form(f"{path}/claim", {}), "claimed")
    assert 'data-state="assigned" data-assignee="mei"' in page and "You claimed this conversation." in page
    assert 'id="reply-form"' in page and 'id="release-form"' in page and 'id="claim-form"' not in page

    note = "客户要求人工服务，先核实订单。"
    page = followed(mei, mei.form(f"{path}/notes", {"text": note}), "noted")
    assert f'<li class="note" data-agent="mei"><strong>mei</strong>: <span dir="auto">{note}</span></li>' in page
    assert all(note not in turn for turn in turns(page))  # a note is never a turn
    assert mei.form(f"{path}/notes", {"text": ""}).status_code == 422

    # Chinese cannot be translated offline: the preview says it may not be sent, and why, in words.
    refused = mei.form(f"{path}/replies/preview", {"text": CHINESE_REPLY, "language": ""})
    assert refused.status_code == 200
    shown = element(refused.text, "reply-section")
    assert 'data-sendable="false"' in shown and 'id="send-form"' not in shown
    assert "This reply cannot be sent." in shown and "customer&#39;s language (ar)" in shown
    assert CHINESE_REPLY in element(refused.text, "reply-text")  # the draft is kept for the agent to rewrite

    preview = mei.form(f"{path}/replies/preview", {"text": ARABIC_REPLY, "language": ""})
    assert preview.status_code == 200
    shown = element(preview.text, "reply-section")
    assert 'data-sendable="true"' in shown
    assert f'<p id="preview-text" class="customer-text" dir="auto" lang="ar">{ARABIC_REPLY}</p>' in shown
    assert 'data-quality="same_language"' in shown
    assert 'id="preview-findings"' in shown or 'id="preview-no-findings"' in shown
    preview_id = re.search(r'name="preview_id" value="([0-9a-f]{32})"', shown).group(1)  # type: ignore[union-attr]

    page = followed(mei, mei.form(f"{path}/replies", {"preview_id": preview_id}), "sent")
    assert "Your reply was sent to the customer." in page
    human = [turn for turn in turns(page) if 'data-role="human"' in turn]
    assert len(human) == 1 and ARABIC_REPLY in human[0]
    seen = api.client.get(f"/v1/conversations/{conversation_id}", headers=api.headers("admin"))
    assert seen.status_code == 200
    assert [(t["role"], t["text"]) for t in seen.json()["turns"] if t["role"] == "human"] == [("human", ARABIC_REPLY)]
    again = mei.form(f"{path}/replies", {"preview_id": preview_id})  # a preview is sent once
    assert again.status_code == 404 and 'id="desk-error-code">preview_not_found<' in again.text

    assert mei.form(f"{path}/release", {"outcome": "solved-ish"}).status_code == 422
    page = followed(mei, mei.form(f"{path}/release", {"outcome": "resolved"}), "released")
    assert 'data-state="closed"' in page and "resolved" in element(page, "desk-item")
    assert 'id="reply-form"' not in page and 'id="release-form"' not in page and 'id="reply-closed"' in page
    assert f'data-conversation-id="{conversation_id}"' not in mei.get("/console/desk").text
    stats = api.client.get("/v1/desk/stats", headers=api.agent_headers("mei")).json()
    assert stats["outcomes"].get("resolved", 0) >= 1 and stats["median_first_response_s"] is not None


def test_a_second_agent_who_claims_too_late_is_told_so_in_words(
        api: ApiHarness, mei: Console, conversations: dict[str, str]) -> None:
    conversation_id = conversations["th"]
    german_agent = agent_console(api, "agent-de")
    page = page_of(german_agent, conversation_id)  # both see it waiting, with a claim button
    assert 'id="claim-form"' in page
    followed(mei, mei.form(f"/console/desk/conversations/{conversation_id}/claim", {}), "claimed")
    late = german_agent.form(f"/console/desk/conversations/{conversation_id}/claim", {})
    assert late.status_code == 409
    assert 'id="desk-error-code">conflict<' in late.text and "another agent claimed it" in late.text
    assert "&#39;mei&#39;" in element(late.text, "desk-error-message")
    assert 'data-assignee="mei"' in late.text and 'id="reply-form"' not in late.text
    as_json = german_agent.post(f"/console/desk/conversations/{conversation_id}/claim",
                                headers={"Accept": "application/json"})
    assert as_json.status_code == 409 and as_json.json()["code"] == "conflict"
    no_token = german_agent.post(f"/console/desk/conversations/{conversation_id}/release", csrf=False,
                                 data={"outcome": "spam"})
    assert no_token.status_code == 403 and "csrf_failed" in no_token.text


def test_the_copilot_suggests_replies_with_their_sources(mei: Console, conversations: dict[str, str]) -> None:
    conversation_id = conversations["de"]
    page = page_of(mei, conversation_id)
    german = turns(page)[0]
    assert '<div class="turn-translation" data-quality="unavailable">' in german
    assert 'id="suggest-form" method="get"' in page
    response = mei.get(f"/console/desk/conversations/{conversation_id}/suggestions")
    assert response.status_code == 200
    copilot = element(response.text, "suggestions")
    suggestions = re.findall(r'<li class="suggestion".*?</form>|<li class="suggestion".*?</ul>', copilot, re.S)
    assert suggestions and 'data-language="de"' in suggestions[0]
    assert 'class="suggestion-text customer-text" dir="auto" lang="de"' in copilot
    assert re.search(r'<ul class="citations"><li data-document-id="[^"]+">', copilot)
    assert 'data-quality="unavailable"' in copilot  # its translation into Chinese, flagged
    assert 'class="use-suggestion"' not in copilot  # reply forms only once claimed
    found = mei.get(f"/console/desk/conversations/{conversation_id}/suggestions",
                    headers={"Accept": "application/json"}).json()
    assert found["suggestions"] and found["suggestions"][0]["citations"]

    followed(mei, mei.form(f"/console/desk/conversations/{conversation_id}/claim", {}), "claimed")
    copilot = element(mei.get(f"/console/desk/conversations/{conversation_id}/suggestions").text, "suggestions")
    use = re.search(r'<form class="use-suggestion".*?</form>', copilot, re.S).group(0)  # type: ignore[union-attr]
    fields = {name: markup.unescape(value) for name, value in
              re.findall(r'<input type="hidden" name="(text|language)" value="([^"]*)">', use)}
    assert fields["language"] == "de" and fields["text"] == found["suggestions"][0]["text"]
    preview = mei.form(f"/console/desk/conversations/{conversation_id}/replies/preview", fields)
    shown = element(preview.text, "reply-section")
    assert 'data-sendable="true"' in shown and 'lang="de"' in element(shown, "preview-text")


def test_the_page_speaks_the_agents_console_language(mei: Console, conversations: dict[str, str]) -> None:
    page = page_of(mei, conversations["ja"], **{"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh-Hans">' in page
    japanese = turns(page)[0]
    assert "无法翻译" in japanese and "您的语言（zh）" in japanese
    assert f'<p class="customer-text" dir="auto" lang="ja">{JAPANESE[0]}</p>' in japanese  # never translated by the UI
    assert "客户要求人工服务" in element(page, "handoff")


def test_a_content_key_may_not_open_the_desk(api: ApiHarness, console_as: ConsoleFactory,
                                             conversations: dict[str, str]) -> None:
    content = console_as(api, "content")
    for path in ("/console/desk", f"/console/desk/conversations/{conversations['de']}"):
        response = content.get(path)
        assert response.status_code == 403 and 'id="error-code">forbidden<' in response.text
    claim = content.form(f"/console/desk/conversations/{conversations['de']}/claim", {})
    assert claim.status_code == 403


def test_another_tenants_agent_sees_none_of_it(api: ApiHarness, console_as: ConsoleFactory,
                                              conversations: dict[str, str]) -> None:
    acme = console_as(api, "agent", "acme")
    inbox = acme.get("/console/desk").text
    assert "data-conversation-id" not in inbox and 'id="inbox-empty" class="card">' in inbox
    assert acme.get("/console/desk.json").json()["items"] == []
    conversation_id = conversations["ja"]
    path = f"/console/desk/conversations/{conversation_id}"
    for response in (acme.get(path), acme.get(f"{path}/suggestions"), acme.form(f"{path}/claim", {}),
                     acme.form(f"{path}/notes", {"text": "peek"}),
                     acme.form(f"{path}/replies/preview", {"text": "hello"})):
        assert response.status_code == 404, response.text
        assert 'id="error-code">not_found<' in response.text and JAPANESE[0] not in response.text
    item = api.client.get(f"/v1/desk/conversations/{conversation_id}", headers=api.agent_headers("mei")).json()
    assert (item["item"]["state"], item["item"]["notes"]) == ("waiting", 0)


def test_an_admin_works_the_desk_as_its_own_agent(api: ApiHarness, console_as: ConsoleFactory,
                                                 conversations: dict[str, str]) -> None:
    admin = console_as(api, "admin")
    assert f'data-conversation-id="{conversations["ja"]}"' in admin.get("/console/desk").text
    conversation_id = handed_off(api, "Saya ingin bicara dengan manusia, tolong.", "ID")
    page = followed(admin, admin.form(f"/console/desk/conversations/{conversation_id}/claim", {}), "claimed")
    assignee = re.search(r'data-assignee="(admin-[^"]+)" data-agent="(admin-[^"]+)"', page)
    assert assignee and assignee.group(1) == assignee.group(2)
    indonesian = turns(page)[0]
    assert 'data-language="id"' in indonesian and 'data-quality="unavailable"' in indonesian  # English, no engine
    assert "In your language (en)" in indonesian
