"""``polydesk serve``: the HTTP service, with the ingestion job worker and the webhook delivery."""

from __future__ import annotations

from typing import Annotated

import typer

from api.cli.common import console, errors, load_settings
from polydesk.errors import ConfigError


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Processes; more than 1 needs Qdrant and Redis servers.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service (API docs at /docs), with the ingestion job worker and the webhook delivery.

    Keys come from `POLYDESK_API_KEYS`; without it, demo keys for tenant `tidewell` (one per role) are
    created once in `DATA_DIR/api-keys.json` (mode 600) and printed the first time.

    Without `POLYDESK_REDIS_URL` the service starts its own redis-server on `DATA_DIR/redis` and stops it when
    it stops (SIGTERM, Ctrl-C, or even SIGKILL on Linux); another process cannot use that folder meanwhile.
    """
    import uvicorn

    from api.app import configured_keys

    settings = load_settings()
    with errors(False):
        if workers > 1 and not settings.qdrant_url:
            raise ConfigError("--workers > 1 needs POLYDESK_QDRANT_URL: the embedded Qdrant engine is opened by "
                              "one process at a time")
        if workers > 1 and not settings.redis_url:
            raise ConfigError("--workers > 1 needs POLYDESK_REDIS_URL: the embedded redis-server belongs to the one "
                              "process that starts it")
        keys, created = configured_keys(settings)
    if created is not None:
        console.print(f"API keys created in {created} (shown once):")
        for key in keys:
            console.print(f"  {key.role:<9} {key.key.get_secret_value()}  (tenant {key.tenant})")
    else:
        console.print(f"{len(keys)} API keys loaded for tenants {', '.join(sorted({k.tenant for k in keys}))}")
    uvicorn.run("api.app:serve_app", factory=True, host=host, port=port, workers=workers, log_level=log_level)
