"""Tool-call overhead: what polydesk's tool stage adds to a brand tool's own response time.

Runs the answer pipeline's tool stage (``agent.tools.stage.ToolStage.run``) on the demo brand's order-status
tool (``demo/tidewell/tools/order_status.yaml``) against the demo order service on loopback
(``api.cli.demo_orders``, which answers from bodies serialised up front). One call is everything the stage does
for an order question: choose the tool, extract the order number (from the message, or from an earlier message),
render the URL, the outbound policy checks (the host name resolved, every address checked, at connect time
too), the HTTP request through ``polydesk.safehttp`` (client side), the JSON, the declared fields and the reply
template with babel's dates and amounts. The remote API's own time is taken out: the service measures each
request from its request line to its last byte written, and the overhead is the call's time minus that. The
service runs in this process: the moments its thread waits for the interpreter lock count as overhead, so the
numbers are an upper bound.

Reported per run and over all runs: median and p95 of the call, of the service's handling time and of the
overhead (target: p95 <= 5 ms), and the cost a message with no tool pays (the stage deciding that none applies).
``--after-embedding`` embeds a query (untimed) before each call, as the pipeline does just before its tool
stage: on a machine with few cores, ONNX Runtime's worker threads, still spinning after the inference, compete
with the call for the CPU.

    .venv/bin/python -m bench.tools [--calls 1000] [--runs 5] [--host localhost] [--after-embedding]
                                    [--out bench/results/tools.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import polydesk  # noqa: F401  (offline switches first)
from agent.tools.client import ToolClient
from agent.tools.spec import ToolCatalog
from agent.tools.stage import ToolRequest, ToolStage
from api.cli.demo_orders import DEMO_DIR, URL_ENV, OrderService, load_orders
from evals.suite import SUITES_DIR, load_suites
from polydesk.settings import Settings

TARGET_P95_MS = 5.0
WARMUP = 50


def requests() -> list[ToolRequest]:
    """The order questions of the demo's order-status suite that find an order: in the message (16 markets)
    and in an earlier message of the conversation (10 languages)."""
    found = []
    for case in load_suites([SUITES_DIR / "tools" / "tidewell-orders.jsonl"]):
        if case.tool is not None and case.tool.status == "ok":
            found.append(ToolRequest(tenant="tidewell", market=case.market, language=case.language,
                                     message=case.message, history=tuple(case.history), intent="order_status",
                                     channel=case.channel))
    return found


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": round(statistics.median(values), 3), "p95": round(pct(values, 95), 3),
            "max": round(max(values), 3)}


def one_run(stage: ToolStage, service: OrderService, batch: Sequence[ToolRequest], calls: int,
            before: Callable[[], object] | None = None) -> dict[str, Any]:
    totals, remote, overhead = [], [], []
    for i in range(calls):
        request = batch[i % len(batch)]
        if before is not None:
            before()
        began = time.perf_counter()
        outcome = stage.run(request)
        elapsed = (time.perf_counter() - began) * 1000
        if outcome is None or outcome.call.status != "ok":
            raise SystemExit(f"the tool call failed: {outcome and outcome.call}")
        handled = service.handling_ms[-1]  # one call at a time: the last request the service handled is this one
        totals.append(elapsed)
        remote.append(handled)
        overhead.append(elapsed - handled)
    return {"call": summary(totals), "service": summary(remote), "overhead": summary(overhead),
            "_overhead": overhead}


def no_tool_cost(stage: ToolStage, calls: int) -> dict[str, float]:
    """What a message that is no order question pays: the stage looks and returns None."""
    request = ToolRequest(tenant="tidewell", market="DE", language="de", intent="policy_question",
                          message="Wie lange habe ich Zeit für eine Rücksendung?", history=("Hallo",))
    times = []
    for _ in range(calls):
        began = time.perf_counter()
        if stage.run(request) is not None:
            raise SystemExit("a returns question called the order tool")
        times.append((time.perf_counter() - began) * 1000)
    return summary(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=1000, help="tool calls per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--host", default="localhost", help="how the tool's URL names the service: a host name "
                        "(resolved on every call, as a real API's is) or 127.0.0.1")
    parser.add_argument("--after-embedding", action="store_true", help="embed a query before each call (untimed)")
    parser.add_argument("--out", type=Path, help="also write the numbers as JSON here")
    args = parser.parse_args()
    batch = requests()
    before = None
    if args.after_embedding:
        from knowledge.embedder import create_embedder

        embedder = create_embedder(Settings(_env_file=None))  # type: ignore[call-arg]
        before = lambda: embedder.embed_queries(["where is my order"])  # noqa: E731
    with OrderService(load_orders()) as service:
        port = service.url.rsplit(":", 1)[1]
        client = ToolClient(settings=Settings(_env_file=None),  # type: ignore[call-arg]
                            environ={URL_ENV: f"http://{args.host}:{port}"})
        stage = ToolStage(catalog=ToolCatalog.load(DEMO_DIR), client=client)
        try:
            one_run(stage, service, batch, WARMUP, before)
            runs = [one_run(stage, service, batch, args.calls, before) for _ in range(args.runs)]
            idle = no_tool_cost(stage, args.calls)
        finally:
            client.close()
    every = [ms for run in runs for ms in run.pop("_overhead")]
    overall = {"median": round(statistics.median(every), 3), "p95": round(pct(every, 95), 3)}
    print(f"tool stage on the demo order-status tool, {len(batch)} questions in {len({r.language for r in batch})} "
          f"languages, service at http://{args.host}:{port}, {args.runs} runs x {args.calls} calls"
          + (", each right after a query embedding" if before else ""))
    for number, run in enumerate(runs, start=1):
        print(f"run {number}: call median {run['call']['median']:.3f} ms p95 {run['call']['p95']:.3f} | service "
              f"median {run['service']['median']:.3f} p95 {run['service']['p95']:.3f} | overhead median "
              f"{run['overhead']['median']:.3f} ms p95 {run['overhead']['p95']:.3f} ms")
    print(f"overhead over all {len(every)} calls: median {overall['median']:.3f} ms, p95 {overall['p95']:.3f} ms "
          f"(target p95 <= {TARGET_P95_MS:.0f} ms: {'met' if overall['p95'] <= TARGET_P95_MS else 'NOT met'})")
    print(f"no tool applies (the stage's cost for any other message): median {idle['median']:.3f} ms, "
          f"p95 {idle['p95']:.3f} ms")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"host": args.host, "after_embedding": bool(before), "calls": args.calls, "runs": runs, "overhead": overall,
                                        "no_tool": idle, "target_p95_ms": TARGET_P95_MS}, indent=2) + "\n",
                            encoding="utf-8")


if __name__ == "__main__":
    main()
