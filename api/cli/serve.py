"""``polydesk serve``: the HTTP service, with the ingestion job worker and the webhook delivery."""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import Annotated

import typer

from api.cli.common import console, errors, load_settings
from polydesk.settings import Settings


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(
        min=1, max=64, help="Answering processes; they share the embedded store and Redis, or the servers.")] = 1,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Run the HTTP service (API docs at /docs), with the ingestion job worker and the webhook delivery.

    Keys come from `POLYDESK_API_KEYS`; without it, demo keys for tenant `tidewell` (one per role) are
    created once in `DATA_DIR/api-keys.json` (mode 600) and printed the first time.

    Without `POLYDESK_REDIS_URL` the service starts its own redis-server on `DATA_DIR/redis` and stops it when
    it stops (SIGTERM, Ctrl-C, or even SIGKILL on Linux); another process cannot use that folder meanwhile.

    With `--workers N` (N > 1) and no Qdrant server, this process opens the embedded Qdrant folder and the
    embedded redis-server once and the N answering processes share them (knowledge/store_host.py); each
    worker accepts on its own socket of the port, so the kernel spreads connections over them (api/cli/workers.py).
    This process also runs the ingestion jobs, so that no answering process shares its interpreter with them.
    """
    import uvicorn

    from api.app import configured_keys
    from api.cli.workers import APP, run_workers

    settings = load_settings()
    with errors(False):
        keys, created = configured_keys(settings)
    if created is not None:
        console.print(f"API keys created in {created} (shown once):")
        for key in keys:
            console.print(f"  {key.role:<9} {key.key.get_secret_value()}  (tenant {key.tenant})")
    else:
        console.print(f"{len(keys)} API keys loaded for tenants {', '.join(sorted({k.tenant for k in keys}))}")
    with errors(False), shared_for_workers(settings, workers):
        if workers > 1:
            if "answer_concurrency" not in settings.model_fields_set:  # a process per core, an answer at a time
                os.environ["POLYDESK_ANSWER_CONCURRENCY"] = "1"
            run_workers(host=host, port=port, workers=workers, log_level=log_level)
        else:
            uvicorn.run(APP, factory=True, host=host, port=port, log_level=log_level)


@contextmanager
def shared_for_workers(settings: Settings, workers: int) -> Iterator[None]:
    """With several workers, the embedded resources opened here once and handed to them by environment: the
    Qdrant folder served on a private socket (``POLYDESK_STORE_SOCKET``), the redis-server by its socket
    (``POLYDESK_REDIS_URL``). Servers configured by URL are shared as they are. The ingestion jobs run here too
    (the workers only submit them: ``POLYDESK_RUN_INGESTION_JOBS=false``): an upload's parsing and chunking then
    take no interpreter time from the answers, and its writes reach the store's owner without a copy in between.
    """
    if workers < 2:
        yield
        return
    from ingestion.jobs import JobQueue
    from knowledge.embedder import create_embedder
    from knowledge.index import KnowledgeIndex, open_store
    from polydesk.redisdb import connect_redis
    from polydesk.worker import lower_priority

    with ExitStack() as stack:
        # Made in a thread of lower CPU priority, which the model's own threads inherit: here it embeds only
        # what the jobs ingest, and the kernel gives the cores to the answering processes first.
        with ThreadPoolExecutor(1, initializer=lower_priority) as once:
            embedder = once.submit(create_embedder, settings).result()
        if settings.qdrant_url:
            store = open_store(settings, dim=embedder.dim)
            stack.callback(store.close)
        else:
            from knowledge.store_host import RemoteStore, StoreHost

            owned = open_store(settings, dim=embedder.dim)
            stack.callback(owned.close)
            host = StoreHost(owned, replicas=settings.data_dir / "replicas" if settings.store_replicas else None)
            stack.callback(host.close)
            os.environ["POLYDESK_STORE_SOCKET"] = str(host.path)
            store = RemoteStore(host.path, dim=embedder.dim)  # numbered like the workers' writes, for their copies
            stack.callback(store.close)
        if not settings.redis_url:
            from polydesk.redis_server import EmbeddedServer

            server = EmbeddedServer.acquire(settings.redis_path)
            stack.callback(server.release)
            os.environ["POLYDESK_REDIS_URL"] = f"unix://{server.socket_path}"
        client = connect_redis(settings.model_copy(update={"redis_url": os.environ["POLYDESK_REDIS_URL"]})
                               if not settings.redis_url else settings)
        stack.callback(client.close)
        index = KnowledgeIndex(store=store, embedder=embedder, rrf_k=settings.rrf_k)
        jobs = JobQueue(client, index=index, settings=settings, lease_s=settings.job_lease_s)
        jobs.start()
        stack.callback(jobs.stop)
        os.environ["POLYDESK_RUN_INGESTION_JOBS"] = "false"
        yield
