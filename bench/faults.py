"""Every fault scenario of issue 21, one after the other, as a table (``bench.faults_serving`` and
``bench.faults_ingest``; the latter skipped with a note when it is missing).

    .venv/bin/python -m bench.faults [--full] [--json] [--only redis_restart_aof ...]

``--full`` runs the longer version of each scenario (minutes); the default is the CI size. The exit status is 1
when a scenario lost something it must not (a count in its ``must_be_zero`` is not 0).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import traceback
from collections.abc import Callable

from bench.fault_kit import FaultResult

MODULES = ("bench.faults_serving", "bench.faults_ingest")


def scenarios() -> tuple[dict[str, Callable[..., FaultResult]], list[str]]:
    found: dict[str, Callable[..., FaultResult]] = {}
    notes = []
    for name in MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            notes.append(f"{name} is missing: its scenarios were skipped")
            continue
        found.update(module.SCENARIOS)
    return found, notes


def table(results: list[FaultResult]) -> str:
    lines = ["| scenario | load | fault | counted | result |", "| --- | --- | --- | --- | --- |"]
    for r in results:
        verdict = "ok" if r.ok else "FAILED: " + ", ".join(f"{k} {v}" for k, v in r.failing.items())
        figures = "; ".join(f"{k} {v:g}" for k, v in r.figures.items())
        counted = r.counted() + (f"; {figures}" if figures else "")
        lines.append(f"| {r.scenario} | {r.load} | {r.fault} | {counted} | {verdict} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--full", action="store_true", help="the longer version of each scenario")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    args = parser.parse_args()
    found, notes = scenarios()
    results: list[FaultResult] = []
    for name, scenario in found.items():
        if args.only and name not in args.only:
            continue
        print(f"running {name} ...", file=sys.stderr)
        try:
            results.append(scenario(full=args.full))
        except Exception as exc:  # a scenario that could not run is a row too
            traceback.print_exc()
            results.append(FaultResult(scenario=name, load="-", fault="-", counts={"crashed": 1},
                                       must_be_zero=("crashed",), notes=f"{type(exc).__name__}: {exc}"))
    if args.json:
        print(json.dumps({"results": [r.to_dict() for r in results], "notes": notes}, ensure_ascii=False, indent=2))
    else:
        print(table(results))
        for r in results:
            if r.notes:
                print(f"- {r.scenario}: {r.notes}")
        for note in notes:
            print(f"- {note}")
    sys.exit(0 if all(r.ok for r in results) else 1)


if __name__ == "__main__":
    main()
