"""The console's evals page (admin role): the eval runs found in ``settings.runs_dir``, each run's report, and
two runs compared with the release gates (the same code as ``polydesk eval compare``).

- ``GET /console/evals``: the runs, newest first, from each folder's ``summary.json`` (a folder that cannot be
  read is listed with its problem in words), and the compare form.
- ``GET /console/evals/runs/{run_id}``: a table per market from ``summary.json`` and the run's own
  ``report.html`` in a sandboxed frame, served by ``GET /console/evals/runs/{run_id}/report.html`` with a policy
  of its own: its inline style is allowed, nothing else (no script, no request), and only the console may frame it.
- ``GET /console/evals/compare?a=RUN&b=RUN&gates=NAME``: ``evals.compare.compare_runs`` per market with the gates.

A run id is a folder name directly inside the runs folder (letters, digits, ``.``, ``_``, ``-``; no ``..``, no
slash, not a link), else ``404``. A run belongs to the tenant its summary names (``run.tenant``, which ``polydesk
eval run`` writes): an admin sees only its own tenant's runs (another tenant's, or one that names none, is a
``404``, as in the API), and the folders that cannot be read, by name and problem only. Gates files are chosen
by name from those found (``evals/suites/*.yaml`` and the runs folder's ``*.yaml`` that read as gates), never a
path from the request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from api.console.web import PREFIX, SECURITY_HEADERS, AdminUser, render
from api.deps import Services, ServicesDep
from evals.compare import Gates, compare_runs
from evals.report import REPORT, RESULTS, SUMMARY
from evals.suite import SUITES_DIR
from polydesk.errors import InputError, NotFoundError

router = APIRouter(prefix=f"{PREFIX}/evals", include_in_schema=False)

_RUN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_GATES_NAME = re.compile(r"^(suites|runs)/[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.ya?ml$")
MAX_RUNS = 500  # folders listed at most, newest first
# The report is a document of its own: its inline <style> may apply, nothing may run or load, only the console
# may frame it.
REPORT_HEADERS = {
    **SECURITY_HEADERS,
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}
PAGE_CSP = SECURITY_HEADERS["Content-Security-Policy"] + "; frame-src 'self'"
SUMMARY_COLUMNS = ("cases", "accuracy", "answer_rate", "false_answer_rate", "cited_hit_at_1", "escalation_precision",
                   "escalation_recall", "queue_accuracy", "language_match", "persona_compliance", "latency_p50_ms",
                   "latency_p95_ms")


@dataclass(frozen=True)
class RunRow:
    """One folder of the runs folder: its summary's headline numbers, or why it could not be read."""

    id: str
    started: str | None
    suites: tuple[str, ...]
    overall: dict[str, Any]
    error: str | None
    sort_key: float
    tenant: str | None = None


def runs_folder(services: Services) -> Path:
    return Path(services.settings.runs_dir).expanduser().resolve()


def run_folder(services: Services, run_id: str, tenant: str) -> Path:
    """The folder of ``run_id`` directly inside the runs folder, a run of ``tenant``; ``NotFoundError`` for
    anything else."""
    root = runs_folder(services)
    if not _RUN_ID.match(run_id) or run_id in (".", "..") or ".." in run_id:
        raise NotFoundError(f"no eval run {run_id!r}")
    folder = root / run_id
    if folder.is_symlink() or not folder.is_dir() or folder.resolve().parent != root \
            or read_run(folder).tenant != tenant:
        raise NotFoundError(f"no eval run {run_id!r} in the runs folder")
    return folder


def _started(summary: dict[str, Any], folder: Path) -> tuple[str | None, float]:
    started = summary.get("run", {}).get("started")
    if isinstance(started, str):
        try:
            return started, dt.datetime.fromisoformat(started.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    modified = folder.stat().st_mtime
    return None, modified


def read_run(folder: Path) -> RunRow:
    try:
        summary = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
        if not isinstance(summary, dict) or not isinstance(summary.get("overall"), dict):
            raise ValueError(f"{SUMMARY} has no overall metrics")
    except FileNotFoundError:
        return RunRow(folder.name, None, (), {}, f"no {SUMMARY} in this folder", folder.stat().st_mtime)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return RunRow(folder.name, None, (), {}, f"{SUMMARY} cannot be read: {exc}", folder.stat().st_mtime)
    started, key = _started(summary, folder)
    run = summary.get("run", {})
    suites = run.get("suites") or ()
    return RunRow(id=folder.name, started=started, suites=tuple(map(str, suites)), overall=summary["overall"],
                  error=None, sort_key=key, tenant=str(run.get("tenant") or "") or None)


def list_runs(services: Services, tenant: str) -> tuple[list[RunRow], str | None]:
    """``tenant``'s runs (and the unreadable folders), newest first, and a problem with the runs folder itself
    (None when it is fine)."""
    root = runs_folder(services)
    if not root.is_dir():
        return [], f"the runs folder {services.settings.runs_dir} does not exist yet"
    folders = [p for p in root.iterdir() if p.is_dir() and not p.is_symlink() and _RUN_ID.match(p.name)]
    rows = sorted((row for row in map(read_run, folders) if row.tenant == tenant or row.error is not None),
                  key=lambda r: (r.sort_key, r.id), reverse=True)
    return rows[:MAX_RUNS], None


def gates_files(services: Services) -> dict[str, Path]:
    """Gates files by name (``suites/gates.yaml``, ``runs/release.yaml``): the YAML files that read as gates."""
    found: dict[str, Path] = {}
    for prefix, folder in (("suites", SUITES_DIR), ("runs", runs_folder(services))):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            name = f"{prefix}/{path.name}"
            if path.is_file() and not path.is_symlink() and _GATES_NAME.match(name):
                try:
                    Gates.load(path)
                except InputError:
                    continue
                found[name] = path
    return found


def _summary(folder: Path) -> dict[str, Any]:
    try:
        summary: dict[str, Any] = json.loads((folder / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"run {folder.name}: {SUMMARY} cannot be read ({exc})", code="unreadable_run") from exc
    return summary


@router.get("", response_class=HTMLResponse)
def page(request: Request, user: AdminUser, services: ServicesDep) -> HTMLResponse:
    runs, problem = list_runs(services, user.caller.tenant)
    return render(request, "evals.html", {
        "runs": runs, "problem": problem, "gates": list(gates_files(services)), "columns": SUMMARY_COLUMNS,
        "readable": [r.id for r in runs if r.error is None],
    }, user=user)


@router.get("/runs/{run_id}", response_class=HTMLResponse)
def run_page(run_id: str, request: Request, user: AdminUser, services: ServicesDep) -> HTMLResponse:
    folder = run_folder(services, run_id, user.caller.tenant)
    summary = _summary(folder)
    response = render(request, "evals_run.html", {
        "run_id": run_id, "summary": summary, "run": summary.get("run", {}), "columns": SUMMARY_COLUMNS,
        "has_report": (folder / REPORT).is_file(), "has_results": (folder / RESULTS).is_file(),
    }, user=user)
    response.headers["Content-Security-Policy"] = PAGE_CSP  # the report's frame, from the console itself
    return response


@router.get("/runs/{run_id}/report.html", response_class=Response)
def report(run_id: str, user: AdminUser, services: ServicesDep) -> Response:
    path = run_folder(services, run_id, user.caller.tenant) / REPORT
    if not path.is_file():
        raise NotFoundError(f"run {run_id} has no {REPORT}")
    return Response(path.read_bytes(), media_type="text/html; charset=utf-8", headers=REPORT_HEADERS)


@router.get("/compare", response_class=HTMLResponse)
def compare(request: Request, user: AdminUser, services: ServicesDep,
            a: Annotated[str, Query(max_length=128)], b: Annotated[str, Query(max_length=128)],
            gates: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:
    folder_a, folder_b = (run_folder(services, run, user.caller.tenant) for run in (a, b))
    gate_config: Gates | None = None
    if gates:
        found = gates_files(services)
        if gates not in found:
            raise NotFoundError(f"no gates file {gates!r}; found: {', '.join(found) or 'none'}")
        gate_config = Gates.load(found[gates])
    result = compare_runs(folder_a, folder_b, gate_config)
    runs, _ = list_runs(services, user.caller.tenant)
    return render(request, "evals_compare.html", {
        "a": a, "b": b, "gates_name": gates, "result": result, "gates": list(gates_files(services)),
        "readable": [r.id for r in runs if r.error is None],
    }, user=user)
