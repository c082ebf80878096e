"""`polydesk ask`: one message, or a JSONL batch with one reply object per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from polydesk.settings import get_settings

runner = CliRunner()
pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("ask")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("POLYDESK_DATA_DIR", str(root / "data"))
        get_settings.cache_clear()
        folder = root / "kb"
        folder.mkdir()
        (folder / "versand.md").write_text(
            "# Versand und Rückgabe\n\nAb 50 € versenden wir kostenlos mit DHL. Sie können Artikel innerhalb von "
            "30 Tagen kostenlos zurückgeben.\n", encoding="utf-8")
        (folder / "faq.csv").write_text("คำถาม,คำตอบ\nส่งฟรีไหม,\"ส่งฟรีเมื่อซื้อครบ ฿1,000 ค่ะ\"\n", encoding="utf-8")
        for market, path in (("DE", folder / "versand.md"), ("TH", folder / "faq.csv")):
            result = runner.invoke(app, ["ingest", str(path), "--tenant", "acme", "--market", market, "--json"])
            assert result.exit_code == 0, result.output
        yield root
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def data_dir(knowledge: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POLYDESK_DATA_DIR", str(knowledge / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_ask_prints_the_reply_object() -> None:
    result = runner.invoke(app, ["ask", "Wie lange kann ich Artikel zurückgeben?", "--tenant", "acme",
                                 "--market", "DE", "--channel", "email", "--json"])
    assert result.exit_code == 0, result.output
    reply = json.loads(result.stdout)
    assert reply["persona_id"] == "de-formal" and reply["language"] == "de" and reply["generator"] == "extractive"
    assert "30 Tagen" in reply["text"] and reply["citations"][0]["document_id"] == "versand.md"
    assert reply["timings_ms"]["total"] > 0


def test_ask_continues_a_conversation_and_prints_text() -> None:
    first = json.loads(runner.invoke(app, ["ask", "ส่งฟรีไหมคะ", "-t", "acme", "-m", "TH", "-c", "line",
                                           "--json"]).stdout)
    result = runner.invoke(app, ["ask", "ok", "-t", "acme", "-m", "TH", "-c", "line",
                                 "--conversation", first["conversation_id"]])
    assert result.exit_code == 0, result.output
    assert "warm-quick / th" in result.stdout


def test_batch_answers_every_line_and_reports_bad_ones(tmp_path: Path) -> None:
    lines = [
        {"message": "Versand kostenlos ab wann?", "market": "DE", "channel": "web", "tenant": "acme"},
        {"message": "ส่งฟรีไหม", "market": "TH", "channel": "whatsapp", "tenant": "acme", "conversation_id": "b-1"},
        {"message": "", "market": "TH", "channel": "whatsapp"},
        {"message": "hello", "market": "XX", "channel": "web", "tenant": "acme"},
    ]
    batch = tmp_path / "questions.jsonl"
    batch.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\nnot json\n",
                     encoding="utf-8")
    result = runner.invoke(app, ["ask", "--batch", str(batch)])
    assert result.exit_code == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 5
    assert out[0]["language"] == "de" and "50 €" in out[0]["text"]
    assert out[1]["conversation_id"] == "b-1" and "฿1,000" in out[1]["text"]
    assert [o["error"]["code"] for o in out[2:]] == ["invalid_input", "not_found", "invalid_input"]
    assert [o["line"] for o in out[2:]] == [3, 4, 5]


@pytest.mark.parametrize("args", [["ask"], ["ask", "hi", "--batch", "x.jsonl"]])
def test_ask_needs_a_message_or_a_batch(args: list[str]) -> None:
    assert runner.invoke(app, args).exit_code == 2


def test_a_handoff_shows_in_the_events_and_release_hands_it_back() -> None:
    result = runner.invoke(app, ["ask", "Mein Anwalt wird sich bei Ihnen melden.", "-t", "acme", "-m", "DE",
                                 "--conversation", "cli-handoff-1", "--json"])
    assert result.exit_code == 0, result.output
    escalation = json.loads(result.stdout)["escalation"]
    assert escalation["escalate"] and escalation["queue"] == "support_senior" and escalation["reason"] == "policy"

    listed = runner.invoke(app, ["events", "list", "--tenant", "acme", "--json"])
    assert listed.exit_code == 0, listed.output
    events = [e for e in json.loads(listed.stdout) if e["conversation_id"] == "cli-handoff-1"]
    assert [e["type"] for e in events] == ["handoff"] and events[0]["summary"]

    released = runner.invoke(app, ["release", "cli-handoff-1", "-t", "acme", "--actor", "agent-1", "--json"])
    assert released.exit_code == 0 and json.loads(released.stdout) == {"released": "cli-handoff-1", "owner": "bot"}
    again = runner.invoke(app, ["release", "cli-handoff-1", "-t", "acme", "--json"])
    assert again.exit_code != 0 and "conflict" in again.output
    missing = runner.invoke(app, ["release", "no-such-conversation", "-t", "acme", "--json"])
    assert missing.exit_code != 0 and "not_found" in missing.output


def test_event_delivery_needs_a_webhook_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POLYDESK_WEBHOOK_URL", raising=False)
    result = runner.invoke(app, ["events", "deliver", "--once", "--json"])
    assert result.exit_code != 0 and "invalid_input" in result.output and "POLYDESK_WEBHOOK_URL" in result.output
