"""``polydesk eval``: run eval suites and compare runs (docs/evals.md).

Heavy imports (the agent, ragas, datasets, matplotlib) happen inside the commands.

Exit codes: 0 done (and every gate passed), 1 a gate failed or an error, 2 bad input.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from api.cli.common import console, err_console, errors, load_settings, open_runtime
from polydesk.errors import InputError

if TYPE_CHECKING:
    from evals.compare import Gates
    from evals.judge import ContextReader
    from evals.metrics import CaseScorer
    from evals.runner import Progress, Record
    from evals.suite import Case
    from knowledge.embedder import Embedder
    from polydesk.settings import Settings

T = TypeVar("T")

eval_app = typer.Typer(name="eval", help="Run eval suites, compare runs, gate releases.", no_args_is_help=True,
                       add_completion=False, rich_markup_mode="markdown")

JsonOption = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
GatesOption = Annotated[Path | None, typer.Option("--gates", help="Gates YAML; exit 1 when one fails.")]


@eval_app.command("run")
def run(
    suites: Annotated[list[str], typer.Argument(help="Suite files (.jsonl, .csv), folders or glob patterns.")],
    out: Annotated[Path | None, typer.Option(help="Run folder (default: POLYDESK_RUNS_DIR/ID).")] = None,
    market: Annotated[list[str] | None, typer.Option("--market", "-m", help="Only these markets (repeatable).")
                      ] = None,
    generator: Annotated[str | None, typer.Option(help="extractive or llm (POLYDESK_LLM_MODEL); in-process only.")
                         ] = None,
    judge: Annotated[str | None, typer.Option(help="litellm model for LLM-judged metrics (default: not run).")
                     ] = None,
    against: Annotated[str | None, typer.Option(help="Base URL of a running polydesk service (HTTP mode).")] = None,
    api_key: Annotated[str | None, typer.Option(help="API key for --against (its tenant is the run's).")] = None,
    tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant (brand) in-process; persona checks.")
                      ] = "tidewell",
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Cases in flight at once.")] = 1,
    gates: GatesOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run suites in-process (default) or against a service, and write results.jsonl, summary.json, report.html."""
    settings = load_settings()
    with errors(as_json):
        from evals.compare import Gates
        from evals.suite import load_suites, suite_paths

        gate_config = Gates.load(gates) if gates else None
        paths = suite_paths(suites)
        cases = load_suites(paths, markets=market)
        if not cases:
            raise InputError("no cases to run (check the suites and --market)")
        if generator not in (None, "extractive", "llm"):
            raise InputError(f"--generator must be extractive or llm, not {generator!r}")
        if against and not api_key:
            raise InputError("--against needs --api-key")
        summary, folder = _execute(settings, cases, paths, out=out, generator=generator, judge=judge,
                                   against=against, api_key=api_key, tenant=tenant, concurrency=concurrency,
                                   quiet=as_json)
    failed = _report_gates(summary, gate_config, as_json=as_json, extra={"run_folder": str(folder)})
    if failed:
        raise typer.Exit(1)


def _execute(settings: Settings, cases: list[Case], paths: list[Path], *, out: Path | None, generator: str | None,
             judge: str | None, against: str | None, api_key: str | None, tenant: str, concurrency: int,
             quiet: bool) -> tuple[dict[str, Any], Path]:
    from evals.metrics import CaseScorer
    from evals.report import write_run
    from evals.runner import HttpTarget, new_run_id, run_cases
    from personas import PersonaCatalog

    run_id = new_run_id()
    folder = out or settings.runs_dir / run_id
    scorer = CaseScorer(catalog=PersonaCatalog.load(settings.personas_dir), tenant=tenant)
    began = time.time()
    meta: dict[str, Any] = {"id": run_id, "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(began)),
                            "suites": [p.name for p in paths], "cases": len(cases), "tenant": tenant,
                            "concurrency": concurrency, "judge": judge}
    if against:
        target = HttpTarget(against, api_key=api_key or "")
        meta.update(mode="http", target=against)
        try:
            records = _with_progress(lambda p: run_cases(cases, target, run_id=run_id, scorer=scorer,
                                                         concurrency=concurrency, progress=p), len(cases), quiet)
        finally:
            target.close()
        if judge:
            _judge(records, judge, settings, contexts=None)
    else:
        records = _in_process(settings, cases, run_id=run_id, scorer=scorer, generator=generator, judge=judge,
                              tenant=tenant, concurrency=concurrency, quiet=quiet)
        meta.update(mode="in-process", target=str(settings.data_dir))
    generators = sorted({r["reply"]["generator"] for r in records if r["reply"]})
    meta.update(generator=", ".join(generators) or "none", seconds=round(time.time() - began, 1))
    return write_run(folder, records, meta), folder


def _in_process(settings: Settings, cases: list[Case], *, run_id: str, scorer: CaseScorer, generator: str | None,
                judge: str | None, tenant: str, concurrency: int, quiet: bool) -> list[Record]:
    from evals.judge import index_contexts
    from evals.runner import InProcessTarget, run_cases

    if generator == "extractive":
        settings = settings.model_copy(update={"llm_model": None})
    elif generator == "llm" and not settings.llm_model:
        raise InputError("--generator llm needs POLYDESK_LLM_MODEL")
    with open_runtime(settings) as runtime:
        if not runtime.index.list_documents(tenant, limit=1).records:
            raise InputError(f"the knowledge index under {settings.data_dir} has no documents of tenant {tenant!r}: "
                             "ingest first, e.g. polydesk ingest demo/tidewell/knowledge --tenant tidewell "
                             "--market '*'")
        runtime.agent.recorder = runtime.events.recorder = None  # eval cases are not customers: no outcome counts
        target = InProcessTarget(runtime.agent, tenant=tenant)
        records = _with_progress(lambda p: run_cases(cases, target, run_id=run_id, scorer=scorer,
                                                     concurrency=concurrency, progress=p), len(cases), quiet)
        if judge:
            _judge(records, judge, settings, contexts=index_contexts(runtime.index, tenant),
                   embedder=runtime.index.embedder)
    return records


def _judge(records: list[Record], model: str, settings: Settings, *, contexts: ContextReader | None,
           embedder: Embedder | None = None) -> None:
    from evals.judge import judge_metrics, judge_records
    from knowledge.embedder import create_embedder

    metrics = judge_metrics(model, embedder or create_embedder(settings), api_base=settings.llm_base_url)
    judge_records(records, metrics, contexts=contexts)


def _with_progress(work: Callable[[Progress | None], T], total: int, quiet: bool) -> T:
    if quiet or not sys.stderr.isatty():
        return work(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("eval"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err_console,
                  transient=True) as bar:
        task = bar.add_task("eval", total=total)
        return work(lambda done, _total: bar.update(task, completed=done))


def _report_gates(summary: dict[str, Any], gates: Gates | None, *, as_json: bool, extra: dict[str, Any]) -> bool:
    """Print the per-market table (or JSON) and the gates; True when a gate failed."""
    from evals.compare import check_gates

    results = check_gates(summary, gates) if gates else []
    failed = any(not g.passed for g in results)
    if as_json:
        print(json.dumps({**extra, "summary": summary, "gates": [g.__dict__ for g in results],
                          "passed": not failed}, ensure_ascii=False))
        return failed
    from rich.markup import escape
    from rich.table import Table

    from evals.report import fmt

    table = Table(title=f"eval run {summary['run'].get('id', '')} ({summary['overall']['cases']} cases)")
    for column in ("market", "cases", "accuracy [95% CI]", "esc. P", "esc. R", "queue", "language", "persona",
                   "p50 ms", "p95 ms"):
        table.add_column(column, justify="left" if column == "market" else "right")
    for market, m in {**summary["by_market"], "all": summary["overall"]}.items():
        ci = m["accuracy_ci"]
        table.add_row(market, str(m["cases"]), fmt(m["accuracy"], "pct") + (f" [{100 * ci[0]:.0f}–{100 * ci[1]:.0f}]"
                                                                             if ci else ""),
                      fmt(m["escalation_precision"], "pct"), fmt(m["escalation_recall"], "pct"),
                      fmt(m["queue_accuracy"], "pct"), fmt(m["language_match"], "pct"),
                      fmt(m["persona_compliance"], "pct"), fmt(m["latency_p50_ms"], "ms"),
                      fmt(m["latency_p95_ms"], "ms"), style="bold" if market == "all" else "")
    console.print(table)
    for key, value in extra.items():
        console.print(f"{key.replace('_', ' ')}: {value}")
    for result in results:
        console.print(("[green]" if result.passed else "[red]") + escape(result.line()) + "[/]")
    return failed


@eval_app.command("compare")
def compare(
    run_a: Annotated[Path, typer.Argument(help="The baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="The candidate run folder.")],
    gates: GatesOption = None,
    as_json: JsonOption = False,
) -> None:
    """What got better or worse from RUN_A to RUN_B, per market, with significance; exit 1 when a gate fails."""
    with errors(as_json):
        from evals.compare import Gates, compare_runs

        result = compare_runs(run_a, run_b, Gates.load(gates) if gates else None)
    if as_json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        from rich.markup import escape
        from rich.table import Table

        table = Table(title=f"{run_a} → {run_b}")
        for column in ("market", "A", "B", "Δ points", "95% CI", "significant", "fixed", "broken"):
            table.add_column(column, justify="left" if column == "market" else "right")
        for market, c in result["markets"].items():
            ci = c["delta_ci_points"]
            delta = c["delta_points"]
            style = "" if not c["significant"] else ("green" if (delta or 0) > 0 else "red")
            table.add_row(market, _pct(c["accuracy_a"]), _pct(c["accuracy_b"]),
                          "–" if delta is None else f"{delta:+.1f}", f"[{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else "–",
                          "yes" if c["significant"] else "no", str(len(c["fixed"])), str(len(c["broken"])),
                          style=style)
        console.print(table)
        for name, values in result["overall"].items():
            console.print(f"{name}: {values['a']} → {values['b']}")
        for gate in result["gates"]:
            line = (f"{'PASS' if gate['passed'] else 'FAIL'} {gate['gate']} [{gate['scope']}]: {gate['value']} "
                    f"(threshold {gate['threshold']})")
            console.print(("[green]" if gate["passed"] else "[red]") + escape(line) + "[/]")
    if not result["passed"]:
        raise typer.Exit(1)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"
