"""The service's warm-up: ``/readyz`` waits for it, and a process that is the service freezes what start-up built.

Frozen objects are out of the cyclic collector's sight, so a full collection under load walks only what answers
made since (docs/performance.md: pauses of every thread of 250-330 ms, about 20 ms frozen).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from api.deps import Services


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the rest of the test process collects as usual


def _warmed(*, freeze: bool) -> SimpleNamespace:
    service = SimpleNamespace(agent=SimpleNamespace(warm_up=lambda: 3), warm=threading.Event())
    Services._warm_up(service, freeze)  # type: ignore[arg-type]
    return service


@pytest.mark.unit
@pytest.mark.usefixtures("unfrozen")
def test_the_service_freezes_what_start_up_built_once_warm() -> None:
    built_at_start_up = [{"rule": n} for n in range(1000)]
    service = _warmed(freeze=True)
    assert service.warm.is_set()
    assert gc.get_freeze_count() >= len(built_at_start_up)


@pytest.mark.unit
@pytest.mark.usefixtures("unfrozen")
def test_an_app_on_a_runtime_it_was_handed_freezes_nothing() -> None:
    service = _warmed(freeze=False)
    assert service.warm.is_set() and gc.get_freeze_count() == 0


@pytest.mark.unit
@pytest.mark.usefixtures("unfrozen")
def test_a_failed_warm_up_still_says_warm_and_freezes() -> None:
    def fails() -> int:
        raise RuntimeError("a market's rules did not compile")

    service = SimpleNamespace(agent=SimpleNamespace(warm_up=fails), warm=threading.Event())
    Services._warm_up(service, True)  # type: ignore[arg-type]
    assert service.warm.is_set() and gc.get_freeze_count() > 0
