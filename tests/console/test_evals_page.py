"""The console's evals page: runs of a temporary runs folder (made by the eval runner on the demo brand and
``evals.report.write_run``), a run's report, and two runs compared with gates (in-process, real Redis/Qdrant)."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from evals.metrics import CaseScorer
from evals.report import write_run
from evals.runner import InProcessTarget, run_cases
from evals.suite import Case
from tests.api.conftest import ApiHarness
from tests.console.conftest import Console, ConsoleFactory

pytestmark = pytest.mark.integration

CASES = [
    Case(id="de-returns", market="DE", channel="email", language="de",
         message="Wie lange habe ich Zeit für eine Rücksendung?", must_contain=["30 Tage"],
         sources=["policies/DE/versand-rueckgabe-zahlung.md", "faq/faq.csv"], tags=["returns"]),
    Case(id="de-human", market="DE", channel="email", language="de",
         message="Ich möchte bitte mit einem echten Menschen sprechen.", escalate=True, queue="support",
         tags=["escalation"]),
    Case(id="jp-returns", market="JP", channel="line", language="ja", message="返品は何日以内にできますか？",
         must_contain=["8日"], tags=["returns"]),
    Case(id="sa-returns", market="SA", channel="whatsapp", language="ar", message="ما هي مدة الإرجاع؟",
         must_contain=["15 يوم"], tags=["returns"]),
    Case(id="th-returns", market="TH", channel="web", language="th", message="คืนสินค้าได้ภายในกี่วัน",
         tags=["returns"]),
]
BASELINE, CANDIDATE = "20260301T100000-aaaaaa", "20260302T100000-bbbbbb"


def _meta(run_id: str, started: str) -> dict[str, Any]:
    return {"id": run_id, "started": started, "suites": ["tidewell-de.jsonl", "tidewell-jp.jsonl"],
            "cases": len(CASES), "tenant": "tidewell", "mode": "in-process", "generator": "extractive", "judge": None}


@pytest.fixture(scope="module")
def runs_dir(api: ApiHarness, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of the same cases (the candidate breaks every German case), an unreadable folder, gates files."""
    folder = tmp_path_factory.mktemp("runs")
    scorer = CaseScorer(catalog=api.services.catalog, tenant="tidewell")
    records = run_cases(CASES, InProcessTarget(api.services.agent, tenant="tidewell"), run_id=BASELINE, scorer=scorer)
    write_run(folder / BASELINE, records, _meta(BASELINE, "2026-03-01T10:00:00Z"))
    broken = copy.deepcopy(records)
    for record in broken:
        if record["case"]["market"] == "DE":
            record["scores"]["correct"] = False
            record["scores"]["outcome"] = "answer" if record["case"]["escalate"] else "decline"
    write_run(folder / CANDIDATE, broken, _meta(CANDIDATE, "2026-03-02T10:00:00Z"))
    (folder / "half-written").mkdir()
    (folder / "half-written" / "summary.json").write_text("{not json", encoding="utf-8")
    (folder / "strict-gates.yaml").write_text("max_drop_points: 10\ndrop_must_be_significant: false\n"
                                              "accuracy_min: 0.1\n", encoding="utf-8")
    (folder / "notes.yaml").write_text("owner: a content editor\n", encoding="utf-8")  # not gates: not offered
    return folder


@pytest.fixture
def admin(api: ApiHarness, console_as: ConsoleFactory, runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Console:
    monkeypatch.setattr(api.services, "settings", api.services.settings.model_copy(update={"runs_dir": runs_dir}))
    return console_as(api, "admin")


def test_the_runs_are_listed_newest_first(admin: Console) -> None:
    response = admin.get("/console/evals")
    assert response.status_code == 200
    html = response.text
    rows = re.findall(r'<tr data-run="([^"]+)" data-error="(true|false)"', html)
    assert [run for run, error in rows if error == "false"] == [CANDIDATE, BASELINE]
    assert ("half-written", "true") in rows  # listed by its folder's time, with its problem
    broken = re.search(r'<tr data-run="half-written".*?</tr>', html, re.S)
    assert broken and "summary.json cannot be read" in broken.group(0)
    baseline = re.search(rf'<tr data-run="{BASELINE}".*?</tr>', html, re.S)
    assert baseline
    assert f'href="/console/evals/runs/{BASELINE}"' in baseline.group(0)
    assert 'data-metric="cases" data-value="5">5<' in baseline.group(0)
    for metric in ("accuracy", "answer_rate", "escalation_recall", "language_match", "latency_p95_ms"):
        assert f'data-metric="{metric}"' in baseline.group(0)
    assert "tidewell-de.jsonl" in baseline.group(0) and "2026-03-01T10:00:00Z" in baseline.group(0)
    form = re.search(r'<form method="get" action="/console/evals/compare".*?</form>', html, re.S)
    assert form
    assert '<option value="suites/gates.yaml">' in form.group(0)
    assert '<option value="runs/strict-gates.yaml">' in form.group(0)
    assert "notes.yaml" not in form.group(0) and "half-written" not in form.group(0)
    for field in ("compare-a", "compare-b", "compare-gates"):
        assert f'<label for="{field}">' in form.group(0)


def test_a_run_page_shows_its_markets_and_frames_its_report(admin: Console) -> None:
    response = admin.get(f"/console/evals/runs/{BASELINE}")
    assert response.status_code == 200
    html = response.text
    for market in ("DE", "JP", "SA", "TH"):
        assert f'<tr data-market="{market}">' in html
    assert re.search(r'<tr data-market="DE">.*?data-metric="cases" data-value="2"', html, re.S)
    assert f'id="run-report" class="report-frame" sandbox="" src="/console/evals/runs/{BASELINE}/report.html"' in html
    assert "frame-src 'self'" in response.headers["content-security-policy"]
    assert "script-src 'self'" in response.headers["content-security-policy"]

    report = admin.get(f"/console/evals/runs/{BASELINE}/report.html")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    policy = report.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy and "frame-ancestors 'self'" in policy
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert report.headers["x-frame-options"] == "SAMEORIGIN"
    assert 'data-market="DE"' in report.text and "<style>" in report.text


def test_two_runs_compared_with_gates(admin: Console) -> None:
    response = admin.get(f"/console/evals/compare?a={BASELINE}&b={CANDIDATE}&gates=runs/strict-gates.yaml")
    assert response.status_code == 200, response.text
    html = response.text
    assert 'data-passed="false"' in html and 'id="verdict" role="status" data-verdict="blocked"' in html
    german = re.search(r'<tr data-market="DE" data-significant="(true|false)">.*?</tr>', html, re.S)
    assert german
    assert 'data-metric="delta_points" data-value="-' in german.group(0)
    assert re.search(r'data-metric="delta_ci">\[[-+]\d', german.group(0))
    assert re.search(r'<tr data-gate="max_drop_points" data-scope="DE" data-passed="false">', html)
    assert re.search(r'<tr data-gate="max_drop_points" data-scope="JP" data-passed="true">', html)
    assert '<tr data-metric="accuracy">' in html

    same = admin.get(f"/console/evals/compare?a={BASELINE}&b={BASELINE}&gates=runs/strict-gates.yaml").text
    assert 'data-verdict="passed"' in same
    plain = admin.get(f"/console/evals/compare?a={BASELINE}&b={CANDIDATE}").text
    assert 'data-verdict="no-gates"' in plain and "compare-gates-results" not in plain


@pytest.mark.parametrize("url", [
    "/console/evals/runs/..%2F..",
    "/console/evals/runs/%2E%2E",
    "/console/evals/runs/no-such-run",
    "/console/evals/runs/..%2F..%2Fetc/report.html",
    "/console/evals/runs/half-written/report.html",
    f"/console/evals/compare?a=..%2F{BASELINE}&b={BASELINE}",
    f"/console/evals/compare?a={BASELINE}&b=%2Ftmp",
    f"/console/evals/compare?a={BASELINE}&b={BASELINE}&gates=..%2F..%2Fetc%2Fpasswd.yaml",
    f"/console/evals/compare?a={BASELINE}&b={BASELINE}&gates=runs/notes.yaml",
])
def test_a_run_or_gates_outside_the_runs_folder_is_a_404(admin: Console, url: str) -> None:
    response = admin.get(url)
    assert response.status_code == 404, response.text
    assert 'id="error-code">not_found<' in response.text


def test_a_folder_that_cannot_be_read_cannot_be_compared(admin: Console) -> None:
    """It names no tenant, so it is nobody's run to open (it is listed, with its problem, and that is all)."""
    response = admin.get(f"/console/evals/compare?a=half-written&b={BASELINE}")
    assert response.status_code == 404 and 'id="error-code">not_found<' in response.text


def test_a_missing_runs_folder_is_said_in_words(api: ApiHarness, console_as: ConsoleFactory, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.services, "settings",
                        api.services.settings.model_copy(update={"runs_dir": tmp_path / "nothing-yet"}))
    html = console_as(api, "admin").get("/console/evals").text
    assert 'id="runs-problem"' in html and 'id="runs-empty"' in html


def test_only_an_admin_key_sees_the_evals(api: ApiHarness, console_as: ConsoleFactory, runs_dir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api.services, "settings", api.services.settings.model_copy(update={"runs_dir": runs_dir}))
    content = console_as(api, "content")
    for url in ("/console/evals", f"/console/evals/runs/{BASELINE}", f"/console/evals/runs/{BASELINE}/report.html",
                f"/console/evals/compare?a={BASELINE}&b={CANDIDATE}"):
        response = content.get(url)
        assert response.status_code == 403, url
        assert 'id="error-code">forbidden<' in response.text


def test_the_page_in_chinese(admin: Console) -> None:
    html = admin.get(f"/console/evals/compare?a={BASELINE}&b={CANDIDATE}&gates=suites/gates.yaml",
                     headers={"Accept-Language": "zh-CN"}).text
    assert "比较两次运行" in html and "按市场" in html
    assert "评测运行" in admin.get(f"/console/evals/runs/{CANDIDATE}", headers={"Accept-Language": "zh-CN"}).text


def test_another_tenants_admin_sees_none_of_the_runs(api: ApiHarness, console_as: ConsoleFactory, runs_dir: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs hold the tenant's replies: acme's admin neither lists tidewell's runs nor opens them."""
    monkeypatch.setattr(api.services, "settings", api.services.settings.model_copy(update={"runs_dir": runs_dir}))
    acme = console_as(api, "admin", "acme")
    listed = acme.get("/console/evals").text
    assert BASELINE not in listed and CANDIDATE not in listed
    for url in (f"/console/evals/runs/{BASELINE}", f"/console/evals/runs/{BASELINE}/report.html",
                f"/console/evals/compare?a={BASELINE}&b={CANDIDATE}"):
        response = acme.get(url)
        assert response.status_code == 404, url
        assert "8日" not in response.text and "15 يوم" not in response.text
