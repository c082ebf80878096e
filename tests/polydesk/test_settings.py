import pytest
from pydantic import ValidationError

from polydesk.settings import Settings

pytestmark = pytest.mark.unit


def test_settings_come_from_polydesk_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POLYDESK_CHUNK_TOKENS", "300")
    monkeypatch.setenv("POLYDESK_QDRANT_URL", "http://qdrant:6333")
    settings = Settings()
    assert settings.chunk_tokens == 300
    assert settings.qdrant_url == "http://qdrant:6333"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"chunk_tokens": 64, "chunk_overlap_tokens": 64}, "overlap"),
        ({"embedder": "sentence-transformers"}, "POLYDESK_EMBEDDING_MODEL"),
        ({"redact_patterns": {"order": "x"}}, "UPPER_SNAKE_CASE"),
        ({"redact_patterns": {"ORDER": "("}}, "not a valid regex"),
        ({"collection_prefix": "bad prefix!"}, "collection_prefix"),
    ],
)
def test_unsafe_or_inconsistent_values_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**fields)  # type: ignore[arg-type]
