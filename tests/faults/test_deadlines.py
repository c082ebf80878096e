"""Slow dependencies under load (issue 21): a Redis that answers late, an LLM provider that hangs.

These scenarios (``bench/faults_slow.py``) judge deadlines as well as counts, so they run alone, before the
scenarios that ``conftest.py`` runs in the background.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.faults_slow import hanging_llm, slow_redis


@pytest.mark.slow
def test_a_redis_that_answers_late_gives_503s_then_normal_answers(tmp_path: Path) -> None:
    result = slow_redis(workdir=tmp_path)
    assert result.ok, str(result)
    assert result.counts["refused_503"] + result.counts["degraded"] > 0, str(result)


@pytest.mark.slow
def test_a_hanging_llm_gives_the_extractive_fallback_then_the_llm_again(tmp_path: Path) -> None:
    result = hanging_llm(workdir=tmp_path)
    assert result.ok, str(result)
    assert result.counts["degraded"] > 0 and result.counts["llm_calls_after_recovery"] > 0, str(result)
