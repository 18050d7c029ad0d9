"""The executor plugin's concurrent SQS pollers: how many each mapping runs, that they poll and
hand batches over side by side, and that they stop with the mapping. LocalStack's modules are
stood in for (the project's virtualenv does not hold LocalStack)."""

from __future__ import annotations

import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "local" / "chronos_lambda_executor"))

from chronos_lambda_executor import esm_concurrency  # noqa: E402


@pytest.mark.parametrize(
    ("config", "cap", "expected"),
    [
        ({"ScalingConfig": {"MaximumConcurrency": 20}}, None, 20),
        ({"ScalingConfig": {"MaximumConcurrency": "3"}}, None, 3),
        ({}, None, 5),  # AWS starts five concurrent batches without a ScalingConfig
        ({"ScalingConfig": {"MaximumConcurrency": 20}}, "4", 4),
        ({"ScalingConfig": {"MaximumConcurrency": 2}}, "8", 2),
        ({}, "1", 1),  # LocalStack's own single poller
        ({}, "x", 5),
    ],
)
def test_pollers_per_mapping(config: dict[str, Any], cap: str | None, expected: int) -> None:
    assert esm_concurrency.poller_count(config, cap) == expected


class EmptyPollResultsError(Exception):
    pass


class FakePoller:
    """A queue of ``batches`` batches; each poll takes one and holds it ``hold_s`` (the invoke)."""

    def __init__(self, batches: int, hold_s: float, source: str = "aws:sqs") -> None:
        self.left, self.hold_s, self.source = batches, hold_s, source
        self.lock = threading.Lock()
        self.in_flight = self.most_in_flight = self.handled = 0

    def event_source(self) -> str:
        return self.source

    def poll_events(self) -> None:
        with self.lock:
            if self.left == 0:
                raise EmptyPollResultsError()
            self.left -= 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        time.sleep(self.hold_s)
        with self.lock:
            self.in_flight -= 1
            self.handled += 1


class FakeEsmWorker:
    """LocalStack's EsmWorker as far as the patch uses it: ``start`` runs its own poller loop."""

    def __init__(self, poller: FakePoller, config: dict[str, Any]) -> None:
        self.poller, self.esm_config, self.uuid = poller, config, "esm-1"
        self._shutdown_event = threading.Event()

    def start(self) -> None:
        self._shutdown_event.clear()

        def loop() -> None:
            while not self._shutdown_event.is_set():
                try:
                    self.poller.poll_events()
                except EmptyPollResultsError:
                    self._shutdown_event.wait(0.05)

        threading.Thread(target=loop, daemon=True).start()


@pytest.fixture
def localstack(monkeypatch: pytest.MonkeyPatch) -> type[FakeEsmWorker]:
    worker_class = type("EsmWorker", (FakeEsmWorker,), {})
    modules = {
        "localstack": types.ModuleType("localstack"),
        "localstack.config": types.SimpleNamespace(LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC=0.0),
        "localstack.services.lambda_.event_source_mapping.esm_worker": types.SimpleNamespace(
            EsmWorker=worker_class
        ),
        "localstack.services.lambda_.event_source_mapping.pollers.poller": types.SimpleNamespace(
            EmptyPollResultsException=EmptyPollResultsError
        ),
    }
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(esm_concurrency, "_installed", False)
    monkeypatch.delenv("CHRONOS_ESM_MAX_POLLERS", raising=False)
    esm_concurrency.install()
    return worker_class


def drain(worker: FakeEsmWorker, poller: FakePoller, timeout: float = 5.0) -> float:
    total = poller.left
    started = time.monotonic()
    worker.start()
    while poller.handled < total and time.monotonic() - started < timeout:
        time.sleep(0.01)
    elapsed = time.monotonic() - started
    worker._shutdown_event.set()
    return elapsed


def test_an_sqs_mapping_handles_up_to_its_maximum_concurrency_batches_at_once(
    localstack: type[FakeEsmWorker],
) -> None:
    poller = FakePoller(batches=20, hold_s=0.1)
    worker = localstack(poller, {"ScalingConfig": {"MaximumConcurrency": 4}})
    elapsed = drain(worker, poller)
    assert poller.handled == 20 and poller.left == 0  # each batch handed over once
    assert poller.most_in_flight == 4
    assert elapsed < 1.5  # 20 batches of 0.1 s four at a time, not 2 s one at a time


def test_one_poller_when_capped_to_one_and_other_sources_keep_localstacks_own(
    localstack: type[FakeEsmWorker], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHRONOS_ESM_MAX_POLLERS", "1")
    poller = FakePoller(batches=5, hold_s=0.02)
    drain(localstack(poller, {"ScalingConfig": {"MaximumConcurrency": 4}}), poller)
    assert poller.most_in_flight == 1
    monkeypatch.delenv("CHRONOS_ESM_MAX_POLLERS")
    kinesis = FakePoller(batches=5, hold_s=0.02, source="aws:kinesis")
    drain(localstack(kinesis, {}), kinesis)
    assert kinesis.most_in_flight == 1


def test_extra_pollers_stop_with_the_mapping_and_a_restart_does_not_multiply_them(
    localstack: type[FakeEsmWorker],
) -> None:
    poller = FakePoller(batches=0, hold_s=0.0)
    worker = localstack(poller, {"ScalingConfig": {"MaximumConcurrency": 3}})
    worker.start()
    worker.start()  # started again while its pollers still run
    extra = worker._chronos_extra_pollers  # type: ignore[attr-defined]
    assert len(extra) == 2
    worker._shutdown_event.set()
    for thread in extra:
        thread.join(timeout=3)
    assert not any(thread.is_alive() for thread in extra)


def test_idle_extra_pollers_wake_as_soon_as_a_poll_finds_messages(localstack: type[FakeEsmWorker]) -> None:
    poller = FakePoller(batches=0, hold_s=0.2)
    worker = localstack(poller, {"ScalingConfig": {"MaximumConcurrency": 4}})
    worker.start()
    time.sleep(1.5)  # every extra poller has found the queue empty and backs off (1 s, then 2 s)
    with poller.lock:
        poller.left = 12
    time.sleep(0.5)  # without waking, only LocalStack's own poller would be taking batches now
    assert poller.most_in_flight >= 3
    worker._shutdown_event.set()
