from pathlib import Path

import pytest

from ingestion.sources import SourceOptions, discover
from polydesk.errors import ConfigError, InputError

pytestmark = pytest.mark.unit


def test_folder_defaults_apply_below_their_folder_and_the_nearest_wins(tmp_path: Path) -> None:
    (tmp_path / "policies" / "de").mkdir(parents=True)
    (tmp_path / "policies" / "polydesk.yaml").write_text("kind: policy\nmarket: '*'\n")
    (tmp_path / "policies" / "de" / "polydesk.yaml").write_text("market: de\nlanguage: de\n")
    (tmp_path / "policies" / "de" / "versand.md").write_text("# Versand\n")
    (tmp_path / "catalog.md").write_text("# Catalog\n")
    (tmp_path / ".hidden.md").write_text("secret\n")
    sources = {s.document_id: s.options for s in discover([tmp_path], SourceOptions(tenant="t", market="US"))}
    assert set(sources) == {"catalog.md", "policies/de/versand.md"}
    assert sources["catalog.md"] == SourceOptions(tenant="t", market="US")
    assert sources["policies/de/versand.md"] == SourceOptions(tenant="t", market="DE", kind="policy", language="de")


def test_a_file_named_directly_is_identified_by_its_name(tmp_path: Path) -> None:
    file = tmp_path / "a" / "faq.csv"
    file.parent.mkdir()
    file.write_text("q,a\n")
    [source] = discover([file], SourceOptions(tenant="t"))
    assert source.document_id == "faq.csv"


def test_an_invalid_folder_file_stops_before_anything_is_read(tmp_path: Path) -> None:
    (tmp_path / "polydesk.yaml").write_text("kind: brochure\n")
    (tmp_path / "x.md").write_text("# x\n")
    with pytest.raises(ConfigError, match=r"polydesk\.yaml"):
        discover([tmp_path], SourceOptions(tenant="t"))


def test_a_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file or folder"):
        discover([tmp_path / "nope"], SourceOptions(tenant="t"))


def test_document_ids_are_nfc_whatever_the_file_system_spells(tmp_path: Path) -> None:
    nfd = tmp_path / "Ru\u0308ckgabe" / "pol\u0131tica-devoluc\u0327a\u0303o.md"
    nfd.parent.mkdir()
    nfd.write_text("# Rückgabe\n")
    [source] = discover([tmp_path], SourceOptions(tenant="t"))
    assert source.document_id == "Rückgabe/pol\u0131tica-devolução.md" and source.path == nfd
