"""Website sources over HTTP and the CLI: add, follow the sync job, list, sync again, remove; tenant isolation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli.main import app as cli
from knowledge.embedder import Embedder
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings, get_settings
from tests.api.conftest import KEYS, RuntimeFactory, raw_key
from tests.ingestion.web_site import FakeSite, second_version

pytestmark = pytest.mark.integration


def headers(tenant: str = "tidewell", role: str = "content") -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_key(tenant, role)}"}


@pytest.fixture(scope="module")
def client(embedder: Embedder, open_runtime: RuntimeFactory,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """An app whose operator allows private URLs (the site is on loopback), job worker running."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("sources-api"), allow_private_urls=True,  # type: ignore[call-arg]
                        web_rate_per_second=1000.0, rate_limit_per_minute=100_000, rate_limit_burst=10_000,
                        _env_file=None)
    index = KnowledgeIndex.open(settings, embedder=embedder)
    runtime = open_runtime(index, settings)
    with TestClient(create_app(settings, runtime=runtime, keys=KEYS, background=True),
                    raise_server_exceptions=False) as test_client:
        yield test_client
    runtime.close()
    index.close()


def finished(client: TestClient, job: dict[str, Any], tenant: str = "tidewell") -> dict[str, Any]:
    for _ in range(2400):
        body: dict[str, Any] = client.get(job["links"]["self"], headers=headers(tenant)).json()
        if body["status"] in ("done", "partial", "failed"):
            return body
        time.sleep(0.05)
    raise AssertionError("the sync job did not finish")


@pytest.mark.slow
def test_add_a_site_follow_its_sync_and_sync_again(client: TestClient, site: FakeSite) -> None:
    response = client.post("/v1/knowledge/sources", headers=headers(),
                           json={"url": site.url("/"), "sitemap": True, "every": "6h", "exclude": ["/ja/*"]})
    assert response.status_code == 201, response.text
    added = response.json()
    source = added["source"]
    assert source["every_s"] == 6 * 3600 and source["running_job"] == added["job"]["id"]
    first = finished(client, added["job"])
    assert first["status"] == "partial" and first["source_id"] == source["id"]
    assert first["totals"]["added"] == 7 and first["totals"]["failed"] == 1  # 8 pages less the excluded one
    assert {f["status"] for f in first["files"] if f["url"] == site.url("/es/garantia")} == {"failed"}
    documents = client.get("/v1/knowledge/documents", headers=headers()).json()["documents"]
    by_id = {d["document_id"]: d for d in documents}
    thai = by_id[f"web/127.0.0.1:{site.port}/th/การคืนสินค้า"]
    assert (thai["language"], thai["market"]) == ("th", "TH")

    listed = client.get("/v1/knowledge/sources", headers=headers()).json()["sources"]
    assert [s["id"] for s in listed] == [source["id"]] and listed[0]["last_sync"]["totals"]["added"] == 7

    second_version(site)
    job = client.post(source["links"]["sync"], headers=headers())
    assert job.status_code == 202
    second = finished(client, job.json())
    assert (second["totals"]["replaced"], second["totals"]["deleted"], second["totals"]["added"]) == (1, 1, 1)
    assert second["status"] == "done"

    gone = client.delete(source["links"]["self"], headers=headers())
    assert gone.status_code == 204
    assert client.get(source["links"]["self"], headers=headers()).json()["code"] == "unknown_source"


@pytest.mark.slow
def test_another_tenant_never_sees_or_syncs_a_source(client: TestClient, site: FakeSite) -> None:
    added = client.post("/v1/knowledge/sources", headers=headers(), json={"url": site.url("/"), "sitemap": True})
    assert added.status_code == 201
    source, job = added.json()["source"], added.json()["job"]
    for method, path in (("GET", source["links"]["self"]), ("POST", source["links"]["sync"]),
                         ("DELETE", source["links"]["self"])):
        response = client.request(method, path, headers=headers("acme"))
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "unknown_source"
    assert client.get("/v1/knowledge/sources", headers=headers("acme")).json()["sources"] == []
    assert client.get(job["links"]["self"], headers=headers("acme")).status_code == 404
    done = finished(client, job)
    assert done["totals"]["added"] == 8
    mine = client.get(source["links"]["self"], headers=headers()).json()
    assert mine["last_sync"]["job_id"] == job["id"]  # the one sync that ran is tidewell's own
    client.delete(source["links"]["self"], headers=headers())


@pytest.mark.parametrize(("body", "code"), [
    ({"url": "ftp://help.example/"}, "invalid_url"),
    ({"url": "help center"}, "invalid_url"),
    ({"url": "https://help.example/", "every": "sometimes"}, "invalid_schedule"),
])
def test_bad_input_has_stable_codes(client: TestClient, body: dict[str, str], code: str) -> None:
    response = client.post("/v1/knowledge/sources", headers=headers(), json=body)
    assert response.status_code == 400
    assert response.json()["code"] == code


def test_private_addresses_are_refused_unless_the_operator_allows_them(
        embedder: Embedder, open_runtime: RuntimeFactory, tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "strict", _env_file=None)  # type: ignore[call-arg]
    index = KnowledgeIndex.open(settings, embedder=embedder)
    runtime = open_runtime(index, settings)
    try:
        with TestClient(create_app(settings, runtime=runtime, keys=KEYS, background=False),
                        raise_server_exceptions=False) as strict:
            for url in ("http://127.0.0.1:9/help", "http://10.0.0.8/", "http://[::1]/", "http://169.254.169.254/"):
                response = strict.post("/v1/knowledge/sources", headers=headers(), json={"url": url})
                assert (response.status_code, response.json()["code"]) == (400, "unsafe_url"), url
    finally:
        runtime.close()
        index.close()


def test_an_unknown_source_and_a_connector_key(client: TestClient) -> None:
    response = client.post("/v1/knowledge/sources/0123456789abcdef/sync", headers=headers())
    assert (response.status_code, response.json()["code"]) == (404, "unknown_source")
    assert client.get("/v1/knowledge/sources", headers=headers(role="connector")).status_code == 403


@pytest.mark.slow
def test_the_cli_adds_syncs_and_lists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site: FakeSite) -> None:
    runner = CliRunner()
    for name, value in (("DATA_DIR", str(tmp_path / "data")), ("ALLOW_PRIVATE_URLS", "true"),
                        ("WEB_RATE_PER_SECOND", "1000")):
        monkeypatch.setenv(f"POLYDESK_{name}", value)
    get_settings.cache_clear()
    try:
        added = runner.invoke(cli, ["sources", "add", site.url("/"), "--tenant", "acme", "--market", "*",
                                    "--sitemap", "--json"])
        assert added.exit_code == 0, added.output
        summary = json.loads(added.stdout)
        assert summary["totals"]["added"] == 8 and summary["totals"]["failed"] == 1
        second_version(site)
        synced = runner.invoke(cli, ["sources", "sync", "--tenant", "acme", "--json"])
        assert synced.exit_code == 0, synced.output
        totals = json.loads(synced.stdout)["totals"]
        assert {k: totals[k] for k in ("added", "replaced", "unchanged", "deleted", "failed")} == {
            "added": 1, "replaced": 1, "unchanged": 6, "deleted": 1, "failed": 0}
        listed = runner.invoke(cli, ["sources", "list", "--json"])
        assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["tenant"] == "acme"
        refused = runner.invoke(cli, ["sources", "add", "ftp://x.example/", "--tenant", "acme", "--market", "*",
                                      "--json"])
        assert refused.exit_code == 2 and json.loads(refused.stdout)["error"]["code"] == "invalid_url"
    finally:
        get_settings.cache_clear()
