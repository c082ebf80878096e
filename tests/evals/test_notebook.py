"""The analysis notebook runs on two real run folders (CI also runs it alone: pytest --nbmake notebooks/)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

from evals.report import write_run

pytestmark = [pytest.mark.integration, pytest.mark.slow]

NOTEBOOK = Path(__file__).resolve().parents[2] / "notebooks" / "explore_runs.ipynb"


def test_notebook_explores_two_runs(sample_records: list[dict[str, Any]], tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    worse = copy.deepcopy(sample_records)
    for record in worse[:5]:
        record["scores"]["correct"] = False            # a seeded regression for the notebook to find
    write_run(tmp_path / "a", sample_records, {"id": "a"})
    write_run(tmp_path / "b", worse, {"id": "b"})
    monkeypatch.setenv("POLYDESK_EVAL_RUNS", f"{tmp_path / 'a'},{tmp_path / 'b'}")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.get("outputs", [])]
    text = "".join(str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs)
    assert "building a tiny pair" not in text and str(tmp_path / "a") in text
    assert any("image/png" in o.get("data", {}) for o in outputs)                 # the accuracy chart
    broken = [r["case"]["id"] for r in sample_records[:5] if r["scores"]["correct"]]
    assert broken and all(case_id in text for case_id in broken)                  # "What changed" lists them
    markets = {r["case"]["market"] for r in sample_records}
    assert all(f"\n{market} " in text for market in markets)                      # one row per market
