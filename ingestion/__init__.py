"""Sources → chunks: file types, parsing, chunking, PII redaction, language, the ingestion pipeline."""
import polydesk  # noqa: F401  (offline switches before any third-party import)
