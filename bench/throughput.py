"""Throughput of ``polydesk serve`` side by side with a llama-index tutorial service, in one run, over loopback.

Both services get the same knowledge (the demo brand, as polydesk parsed it) and the same request mix: the 417
questions of the demo suites (``evals/suites/tidewell-*.jsonl``, sixteen markets, ten languages), each sent as a
new conversation (polydesk keeps no answer cache: nothing is served from one). polydesk runs as a new user
would run it: ``polydesk serve``, the extractive generator, embedded Redis and Qdrant, one process. The peer is
``bench.peer_llamaindex``. Each concurrency level loads polydesk, then the peer, for ``--seconds`` each, after
a warm-up; ``--runs`` repeats the whole and the medians are reported, with the ratio. The load generator is
``bench.loadgen`` (tens of microseconds a request); the CPU each service used per answer is read from its
process tree (the embedded redis-server included).

Also measured, on polydesk alone:
- ``--overload 256``: past capacity, every request gets a reply or ``503 overloaded`` with ``Retry-After``
  within the queue budget (``POLYDESK_ANSWER_QUEUE_MS``); ``--runs`` times, the slowest refusal of any run and
  any other status are reported;
- ``--ingest-files 500``: answer p95 at 16 clients while a 500-file upload is ingested, against idle, in
  ``--runs`` pairs (each upload after the first a new version of the same files); the median ratio;
- ``--llm-clients 16``: polydesk's own time around an instant LLM at 16 clients: ``polydesk serve`` with
  ``POLYDESK_LLM_MODEL`` pointed at ``bench.fake_llm`` (a loopback provider that answers at once, in the asked
  language), each LLM-written reply's ``timings_ms`` total minus its ``llm`` share.

It ends with a verdict per target of the throughput issue that the run measured (``targets``): figures, and so
verdicts, hold for the machine they were measured on.

    .venv/bin/python -m bench.throughput [--runs 3] [--seconds 15] [--levels 1 16 64] [--overload 256]
                                         [--ingest-files 500] [--llm-clients 16] [--no-peer]
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

import polydesk  # noqa: F401  (offline switches first)
from bench.answer_latency import ingest_demo
from bench.api_load import KEY, start_server, wait_ready
from bench.fake_llm import FakeLLM
from bench.loadgen import LoadStats, post, run_clients
from bench.report import machine, write_result
from knowledge.index import KnowledgeIndex
from polydesk.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONTENT_KEY = "pd_bench_content_key_00000000000000"
HOST = "127.0.0.1"
PEER = "llama-index tutorial"


def suite_messages() -> list[dict[str, str]]:
    rows = [json.loads(line) for path in sorted(glob.glob(str(ROOT / "evals" / "suites" / "tidewell-*.jsonl")))
            for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [{"market": row["market"], "channel": row["channel"], "message": row["message"]} for row in rows]


def export_documents(settings: Settings, target: Path) -> int:
    """polydesk's documents, one JSON line each (id and its chunks' text in order): the peer's knowledge."""
    index = KnowledgeIndex.open(settings)
    count = 0
    try:
        with target.open("w", encoding="utf-8") as out:
            offset = None
            while True:
                page = index.list_documents("tidewell", limit=100, offset=offset)
                for record in page.records:
                    chunks = sorted(index.get_chunks("tidewell", record.document_id), key=lambda c: c.position)
                    text = "\n\n".join(chunk.text for chunk in chunks)
                    out.write(json.dumps({"document_id": record.document_id, "text": text}, ensure_ascii=False))
                    out.write("\n")
                    count += 1
                offset = page.next_offset
                if offset is None:
                    return count
    finally:
        index.close()


def start_polydesk(data_dir: Path, port: int, workers: int = 1,
                   extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    keys = [{"key": KEY, "tenant": "tidewell", "role": "connector"},
            {"key": CONTENT_KEY, "tenant": "tidewell", "role": "content"}]
    return start_server(data_dir, port, workers, keys=keys,
                        extra={"POLYDESK_MAX_UPLOAD_FILES": "1000", **(extra or {})})


def start_peer(documents: Path, data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench.peer_llamaindex", "--documents", str(documents), "--data-dir",
               str(data_dir), "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (polydesk's embedded redis-server), user + system."""
    process = psutil.Process(pid)
    total = 0.0
    for each in [process, *process.children(recursive=True)]:
        try:
            times = each.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            pass
    return total


def load(port: int, pid: int, requests: list[bytes], clients: int, seconds: float) -> dict[str, Any]:
    before = cpu_seconds(pid)
    stats = asyncio.run(run_clients(HOST, port, requests, clients=clients, seconds=seconds))
    return summary(stats, cpu=cpu_seconds(pid) - before)


def summary(stats: LoadStats, *, cpu: float) -> dict[str, Any]:
    answered = len(stats.ok_ms)
    return {"answers_per_s": round(stats.answers_per_s, 1), "p50_ms": round(stats.percentile(0.5), 1),
            "p95_ms": round(stats.percentile(0.95), 1), "p99_ms": round(stats.percentile(0.99), 1),
            "refused": len(stats.refused_ms),
            "slowest_refusal_ms": round(max(stats.refused_ms), 1) if stats.refused_ms else None,
            "longest_queue_ms": round(max(stats.refused_queue_ms), 1) if stats.refused_queue_ms else None,
            # the longest wait's part in the admission's queue (the rest went before it; 0: refused at the door)
            "longest_queue_in_admission_ms": round(max(zip(stats.refused_queue_ms, stats.refused_admission_ms,
                                                           strict=True))[1], 1) if stats.refused_queue_ms else None,
            "refused_at_the_door": sum(1 for ms in stats.refused_admission_ms if ms == 0.0),
            "other_statuses": {k: v for k, v in stats.statuses.items() if k not in ("200", "503")},
            "server_core_ms_per_answer": round(cpu * 1000 / answered, 2) if answered else None,
            "server_cores": round(cpu / stats.seconds, 2) if stats.seconds else None}


def ingest_while_serving(port: int, pid: int, requests: list[bytes], files: int, seconds: float,
                         runs: int) -> dict[str, Any]:
    """Answer p95 at 16 clients idle, then while a ``files``-file upload is ingested; ``runs`` such pairs, and
    the median of their ratios. Every upload after the first is a new version of the same files (their text
    changes), so each one is parsed, embedded and written again, and the old versions' chunks are deleted."""
    pairs = [_ingest_pair(port, pid, requests, files, seconds, edition) for edition in range(runs)]
    return {"files": files, "p95_ratio": round(statistics.median(pair["p95_ratio"] for pair in pairs), 2),
            "idle": _median([pair["idle"] for pair in pairs]),
            "while_ingesting": _median([pair["while_ingesting"] for pair in pairs]),
            "ingest_s": round(statistics.median(pair["ingest_s"] for pair in pairs), 1), "per_run": pairs}


def _ingest_pair(port: int, pid: int, requests: list[bytes], files: int, seconds: float,
                 edition: int) -> dict[str, Any]:
    idle = load(port, pid, requests, 16, seconds)
    parts = [("files", (f"bench/faq-{i:04d}.md", _faq_page(i, edition).encode(), "text/markdown"))
             for i in range(files)]
    headers = {"Authorization": f"Bearer {CONTENT_KEY}"}
    with httpx.Client(base_url=f"http://{HOST}:{port}", headers=headers, timeout=120) as client:
        job = client.post("/v1/knowledge", files=parts, data={"market": "US"})
        job.raise_for_status()
        link = job.json()["links"]["self"]
        began = time.perf_counter()
        busy = load(port, pid, requests, 16, seconds)
        state = client.get(link).json()
        written_during_load = state.get("files_done")
        while state["status"] in ("queued", "running"):
            time.sleep(1)
            state = client.get(link).json()
    if state["status"] != "done":
        raise RuntimeError(f"the upload ended {state['status']}: {state}")
    return {"idle": idle, "while_ingesting": busy, "files_done_during_load": written_during_load,
            "ingest_s": round(time.perf_counter() - began, 1),
            "p95_ratio": round(busy["p95_ms"] / idle["p95_ms"], 2)}


def overload(port: int, pid: int, requests: list[bytes], clients: int, seconds: float,
             runs: int) -> dict[str, Any]:
    """Past capacity, ``runs`` times: the medians, and the longest wait of any refusal in any run."""
    measured = [load(port, pid, requests, clients, seconds) for _ in range(runs)]
    worst = {key: max((run[key] for run in measured if run[key] is not None), default=None)
             for key in ("slowest_refusal_ms", "longest_queue_ms")}
    return {**_median(measured), **{f"{key}_of_any_run": value for key, value in worst.items()},
            "per_run": measured}


def llm_overhead(data_dir: Path, port: int, requests: list[bytes], *, workers: int, clients: int,
                 seconds: float, runs: int) -> dict[str, Any]:
    """polydesk's own time per answer around an instant LLM, ``clients`` at once: each LLM-written reply's
    ``timings_ms`` total minus its ``llm`` share (the litellm call), medians over ``runs``."""
    fake = FakeLLM()
    process = start_polydesk(data_dir, port, workers, extra=fake.env())
    try:
        wait_ready(f"http://{HOST}:{port}", process, timeout_s=600)
        load(port, process.pid, requests, 8, 5.0)  # warm-up
        measured = []
        for _ in range(runs):
            before = cpu_seconds(process.pid)
            stats = asyncio.run(run_clients(HOST, port, requests, clients=clients, seconds=seconds,
                                            keep_bodies=1_000_000))
            cpu = cpu_seconds(process.pid) - before
            timings = [json.loads(body)["timings_ms"] for body in stats.bodies]
            overhead = [t["total"] - t["llm"] for t in timings if "llm" in t]
            measured.append({**summary(stats, cpu=cpu), "llm_written": len(overhead),
                             "overhead_p50_ms": round(statistics.median(overhead), 1) if overhead else None,
                             "overhead_p95_ms": round(LoadStats(ok_ms=overhead).percentile(0.95), 1)
                             if overhead else None})
        return {"clients": clients, "llm_calls": fake.calls, **_median(measured)}
    finally:
        process.terminate()
        process.wait(timeout=60)
        fake.stop()


def _faq_page(number: int, edition: int = 0) -> str:
    model = f"TW-{number:04d}"
    return (f"# Care guide {number}, edition {edition + 1}\n\nHow do I clean bottle model {model}? Rinse it with "
            "warm water and a drop of mild soap after each use; never put the lid in the dishwasher.\n\n"
            f"Can model {model} hold hot drinks? Yes, up to 95 °C for twelve hours with the lid closed.\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=15.0, help="per service, level and run")
    parser.add_argument("--levels", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--overload", type=int, default=256, help="clients past capacity (0: skip)")
    parser.add_argument("--ingest-files", type=int, default=500, help="files uploaded while serving (0: skip)")
    parser.add_argument("--llm-clients", type=int, default=16, help="clients of the instant-LLM run (0: skip)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2],
                        help="polydesk serve --workers N, each measured (the overload and ingestion runs: the last)")
    parser.add_argument("--no-peer", action="store_true", help="polydesk only")
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()

    messages = suite_messages()
    headers = {"Authorization": f"Bearer {KEY}"}
    ours = [post("/v1/answer", json.dumps(m, ensure_ascii=False).encode(), headers) for m in messages]
    theirs = [post("/answer", json.dumps(m, ensure_ascii=False).encode(), {}) for m in messages]
    services: dict[str, tuple[int, list[bytes], subprocess.Popen[bytes]]] = {}
    budget = Settings(_env_file=None).answer_queue_ms  # type: ignore[call-arg]
    result: dict[str, Any] = {"machine": machine(), "messages": len(messages), "seconds": args.seconds,
                              "runs": args.runs, "queue_budget_ms": budget}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "polydesk"
        settings = Settings(data_dir=data_dir, _env_file=None)  # type: ignore[call-arg]
        ingest_demo(settings)
        documents = Path(tmp) / "documents.jsonl"
        result["documents"] = export_documents(settings, documents)
        try:
            folders = [data_dir, *(Path(tmp) / f"polydesk-{i}" for i in range(1, len(args.workers) + 1))]
            for folder in folders[1:]:  # one serve per embedded folder: the others get copies, made before any opens
                shutil.copytree(data_dir, folder)
            port = args.port
            for workers, folder in zip(args.workers, folders, strict=False):
                services[f"polydesk --workers {workers}"] = (port, ours, start_polydesk(folder, port, workers=workers))
                port += 1
            if not args.no_peer:
                services[PEER] = (port, theirs, start_peer(documents, Path(tmp), port))
            for port, _, process in services.values():
                wait_ready(f"http://{HOST}:{port}", process, timeout_s=600)
            for port, requests, process in services.values():  # warm-up
                load(port, process.pid, requests, 8, 5.0)
            runs = [{name: {str(c): load(port, process.pid, requests, c, args.seconds) for c in args.levels}
                     for name, (port, requests, process) in services.items()} for _ in range(args.runs)]
            result["levels"] = {name: {str(c): _median([run[name][str(c)] for run in runs]) for c in args.levels}
                                for name in services}
            result["per_run"] = runs
            port, requests, process = services[f"polydesk --workers {args.workers[-1]}"]
            if args.overload:
                result["overload"] = overload(port, process.pid, requests, args.overload, args.seconds, args.runs)
            if args.ingest_files:
                result["ingest_while_serving"] = ingest_while_serving(port, process.pid, requests,
                                                                      args.ingest_files, args.seconds, args.runs)
            if args.llm_clients:  # its own serve, on the last copy, once the others are stopped
                _stop(services)
                result["llm_overhead"] = llm_overhead(folders[-1], args.port + 10, ours, workers=args.workers[-1],
                                                      clients=args.llm_clients, seconds=args.seconds,
                                                      runs=args.runs)
        finally:
            _stop(services)
    _print(result, args)
    print(f"written to {write_result('throughput', result)}")


def _stop(services: dict[str, tuple[int, list[bytes], subprocess.Popen[bytes]]]) -> None:
    for _, _, process in services.values():
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def _median(values: list[dict[str, Any]]) -> dict[str, Any]:
    numeric = [k for k, v in values[0].items() if isinstance(v, int | float) and not isinstance(v, bool)]
    merged = {k: round(statistics.median(v[k] for v in values if v[k] is not None), 2) for k in numeric}
    merged["other_statuses"] = {k: sum(v["other_statuses"].get(k, 0) for v in values)
                                for v0 in values for k in v0["other_statuses"]}
    return merged


def _print(result: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"{result['machine']}; {result['messages']} questions, {result['documents']} documents; "
          f"medians of {args.runs} runs × {args.seconds:.0f} s per level")
    levels = result["levels"]
    for clients in map(str, args.levels):
        line = f"  {clients:>3} clients:"
        for name, by_level in levels.items():
            v = by_level[clients]
            line += (f"\n      {name:<22} {v['answers_per_s']:6.1f}/s p50 {v['p50_ms']:6.1f} p95 {v['p95_ms']:6.1f} ms "
                     f"({v['server_core_ms_per_answer']} core-ms/answer, refused {v['refused']:.0f})")
        peer = levels.get(PEER, {}).get(clients, {}).get("answers_per_s")
        if peer:
            line += "  ratio " + ", ".join(f"{by_level[clients]['answers_per_s'] / peer:.1f}x"
                                           for name, by_level in levels.items() if name != PEER)
        print(line)
    if "overload" in result:
        over = result["overload"]
        print(f"  overload {args.overload} clients: {over['answers_per_s']}/s, refused {over['refused']:.0f} per run, "
              f"longest server-side wait {over['longest_queue_ms_of_any_run']} ms, slowest refusal as the client saw "
              f"it {over['slowest_refusal_ms_of_any_run']} ms (of any run), other statuses {over['other_statuses']}")
    if "ingest_while_serving" in result:
        ingest = result["ingest_while_serving"]
        print(f"  ingestion while serving ({ingest['files']} files): p95 ratio {ingest['p95_ratio']} (median; runs "
              f"{[pair['p95_ratio'] for pair in ingest['per_run']]}), p95 idle {ingest['idle']['p95_ms']} ms, while "
              f"ingesting {ingest['while_ingesting']['p95_ms']} ms, upload {ingest['ingest_s']} s, files written when "
              f"the load ended {[pair['files_done_during_load'] for pair in ingest['per_run']]} of {ingest['files']}")
    if "llm_overhead" in result:
        print(f"  around an instant LLM: {result['llm_overhead']}")
    print("  targets (issue: throughput; this machine, this run):")
    for target, measured, met in targets(result, workers=args.workers[-1]):
        print(f"    {'met    ' if met else 'NOT MET'} {target}: {measured}")


def targets(result: dict[str, Any], *, workers: int) -> list[tuple[str, str, bool]]:
    """Each target of the throughput issue that this run measured: what it asks, what was measured, whether it
    holds. Figures from one machine hold for that machine only (docs/performance.md)."""
    ours = result["levels"][f"polydesk --workers {workers}"]
    peer = result["levels"].get(PEER, {})
    found: list[tuple[str, str, bool]] = []
    if "64" in ours:
        v = ours["64"]
        found.append(("64 clients: >= 150 answers/s, p95 <= 250 ms", f"{v['answers_per_s']}/s, p95 {v['p95_ms']} ms",
                      v["answers_per_s"] >= 150 and v["p95_ms"] <= 250))
    if "1" in ours:
        found.append(("1 client: p95 <= 40 ms", f"{ours['1']['p95_ms']} ms", ours["1"]["p95_ms"] <= 40))
    for clients in ("16", "64"):
        if clients in ours and clients in peer:
            ratio = ours[clients]["answers_per_s"] / peer[clients]["answers_per_s"]
            found.append((f"{clients} clients: >= 5x the tutorial service", f"{ratio:.1f}x", ratio >= 5))
    if "llm_overhead" in result:
        own = result["llm_overhead"]["overhead_p95_ms"]
        found.append(("own time around an instant LLM, 16 clients: p95 <= 20 ms", f"{own} ms", own <= 20))
    if "overload" in result:
        over = result["overload"]
        wait, budget = over["longest_queue_ms_of_any_run"], result["queue_budget_ms"]
        found.append(("past capacity: no wait beyond the queue budget, only 200 and 503 + Retry-After",
                      f"longest server-side wait {wait} ms of {budget}, other statuses {over['other_statuses']}",
                      (wait or 0) <= budget and not over["other_statuses"]))
    if "ingest_while_serving" in result:
        ratio = result["ingest_while_serving"]["p95_ratio"]
        found.append(("p95 at 16 clients while 500 files are ingested <= 1.5x idle", f"{ratio}x", ratio <= 1.5))
    return found


if __name__ == "__main__":
    main()
