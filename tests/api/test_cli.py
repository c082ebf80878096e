"""The `polydesk` command line, as a content editor uses it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from polydesk.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("POLYDESK_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield tmp_path / "data"
    get_settings.cache_clear()


@pytest.mark.unit
def test_help_explains_every_command() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("ingest", "search", "documents", "delete", "demo"):
        assert command in result.output


@pytest.mark.unit
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["ingest", "nowhere", "--tenant", "t", "--market", "DE", "--json"], "invalid_input"),
        (["ingest", ".", "--tenant", "t", "--market", "Germany", "--json"], "invalid_input"),
        (["ingest", ".", "--tenant", "t", "--market", "DE", "--kind", "brochure", "--json"], "invalid_input"),
        (["ingest", ".", "--tenant", "bad tenant", "--market", "DE", "--json"], "invalid_input"),
    ],
)
def test_bad_input_exits_2_with_a_stable_error_code(args: list[str], code: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert json.loads(result.stdout)["error"]["code"] == code


@pytest.mark.integration
def test_ingest_search_list_and_delete(tmp_path: Path) -> None:
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "versand.md").write_text("# Versand\n\nAb 50 € versenden wir kostenlos mit DHL.\n", encoding="utf-8")
    (folder / "faq.csv").write_text("คำถาม,คำตอบ\nส่งฟรีไหม,ส่งฟรีเมื่อซื้อครบ ฿1,000\n", encoding="utf-8")
    (folder / "empty.txt").write_text("")

    result = runner.invoke(app, ["ingest", str(folder), "--tenant", "acme", "--market", "DE", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["totals"] == {"files": 3, "added": 2, "replaced": 0, "unchanged": 0, "skipped": 1, "chunks": 2}
    assert next(f for f in summary["files"] if f["document_id"] == "empty.txt")["code"] == "empty_file"

    result = runner.invoke(app, ["search", "Versandkosten", "--tenant", "acme", "--market", "DE", "--top", "1",
                                 "--json"])
    [hit] = json.loads(result.stdout)
    assert hit["document_id"] == "versand.md" and hit["language"] == "de" and "DHL" in hit["text"]

    result = runner.invoke(app, ["search", "ส่งฟรี", "--tenant", "other-brand", "--json"])
    assert json.loads(result.stdout) == []

    listing = json.loads(runner.invoke(app, ["documents", "--tenant", "acme", "--json"]).stdout)
    assert sorted(d["document_id"] for d in listing["documents"]) == ["faq.csv", "versand.md"]

    assert runner.invoke(app, ["delete", "faq.csv", "--tenant", "acme"]).exit_code == 0
    missing = runner.invoke(app, ["delete", "faq.csv", "--tenant", "acme", "--json"])
    assert missing.exit_code == 1 and json.loads(missing.stdout)["error"]["code"] == "not_found"

    human = runner.invoke(app, ["ingest", str(folder), "--tenant", "acme", "--market", "DE"])
    assert "added 1, replaced 0, unchanged 1, skipped 1" in human.stdout
