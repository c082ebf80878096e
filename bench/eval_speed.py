"""A full eval run of every demo suite with the extractive generator, timed as a user runs it.

Runs ``polydesk eval run evals/suites/ --generator extractive --json`` in a fresh process (imports, agent
start-up, every case, scoring, summary and report included) ``--runs`` times against the configured data dir
(the demo brand must be ingested there: ``scripts/setup.sh`` does it) and reports the median wall time, the
per-stage split the run itself recorded, and the per-market accuracy (which must not change between runs).

    .venv/bin/python -m bench.eval_speed [--runs 3] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import machine, write_result

ROOT = Path(__file__).resolve().parents[1]
# ``polydesk`` as its entry point runs it (pyproject: api.cli.main:app).
COMMAND = "from api.cli.main import app; app(prog_name='polydesk')"


def one_run(out: Path, concurrency: int) -> tuple[float, dict[str, object]]:
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", COMMAND, "eval", "run", str(ROOT / "evals" / "suites"),
                           "--generator", "extractive", "--out", str(out), "--concurrency", str(concurrency),
                           "--json"], cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    if done.returncode != 0:
        raise SystemExit(f"eval run failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)["summary"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    walls, summaries = [], []
    with tempfile.TemporaryDirectory(prefix="polydesk-eval-speed-") as work:
        for n in range(args.runs):
            seconds, summary = one_run(Path(work) / f"run{n}", args.concurrency)
            walls.append(seconds)
            summaries.append(summary)
            print(f"run {n + 1}: {seconds:.1f} s wall, {summary['overall']['cases']} cases, "
                  f"accuracy {summary['overall']['accuracy']:.3f}")
    last = summaries[-1]
    accuracy = {m: {"accuracy": g["accuracy"], "ci": g["accuracy_ci"], "cases": g["cases"]}
                for m, g in last["by_market"].items()}
    stable = all(s["by_market"][m]["accuracy"] == accuracy[m]["accuracy"] for s in summaries for m in accuracy)
    result = {"machine": machine(), "runs": args.runs, "concurrency": args.concurrency,
              "cases": last["overall"]["cases"], "wall_s": [round(w, 1) for w in walls],
              "median_wall_s": round(statistics.median(walls), 1),
              "run_recorded_s": [s["run"]["seconds"] for s in summaries],
              "accuracy_overall": last["overall"]["accuracy"], "accuracy_ci": last["overall"]["accuracy_ci"],
              "accuracy_stable_across_runs": stable, "per_market": accuracy,
              "stage_latency_ms": last["latency_ms"]}
    path = write_result("eval_speed", result)
    print(f"median {result['median_wall_s']} s over {args.runs} runs; results in {path}")


if __name__ == "__main__":
    main()
