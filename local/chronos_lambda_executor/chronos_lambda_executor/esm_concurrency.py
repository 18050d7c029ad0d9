"""Concurrent SQS pollers for LocalStack's event source mappings, as AWS runs them.

AWS polls an SQS queue with several long-polling pollers and invokes the function with up to
five concurrent batches at first, scaling up to the mapping's ``ScalingConfig.MaximumConcurrency``
while messages remain. LocalStack 2026.3 runs one poller thread per mapping, which handles one
batch at a time: a queue drains at one batch per function duration, whatever the mapping says,
and concurrency bugs between batches never show. This module makes each SQS mapping run
``MaximumConcurrency`` pollers (five without a ``ScalingConfig``; ``CHRONOS_ESM_MAX_POLLERS``
caps it, 1 restores LocalStack's behaviour). LocalStack's own thread keeps the mapping's state;
the extra ones only poll and hand their batches to the same processor. An extra poller that finds
the queue empty backs off for longer (up to ``IDLE_BACKOFF_MAX_S``), so an idle queue costs about
what it did, and wakes as soon as any poller of its mapping finds messages (AWS's pollers
long-poll, so messages arriving at an idle queue are taken by several at once).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

LOG = logging.getLogger(__name__)

AWS_INITIAL_CONCURRENCY = 5
IDLE_BACKOFF_MAX_S = 5.0
_installed = False


def poller_count(esm_config: Any, cap: str | None) -> int:
    """How many pollers an SQS mapping runs: its ``MaximumConcurrency`` (AWS's initial five
    without one), at most ``cap`` (``CHRONOS_ESM_MAX_POLLERS``) when that is a positive number."""
    scaling = (esm_config or {}).get("ScalingConfig") or {}
    wanted = int(scaling.get("MaximumConcurrency") or AWS_INITIAL_CONCURRENCY)
    if cap and cap.strip().isdigit() and int(cap) > 0:
        wanted = min(wanted, int(cap))
    return max(1, wanted)


def _extra_poller(worker: Any, index: int, interval_s: float, busy: threading.Event) -> None:
    from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException

    idle = 1.0
    while not worker._shutdown_event.is_set():
        wait = interval_s
        try:
            worker.poller.poll_events()
            idle = 1.0
        except EmptyPollResultsException:
            wait, idle = idle, min(idle * 2, IDLE_BACKOFF_MAX_S)
        except Exception:  # noqa: BLE001 - LocalStack's own loop logs and backs off the same way
            LOG.warning("extra SQS poller %d of mapping %s failed", index, worker.uuid, exc_info=True)
            wait = 2.0
        _pause(worker, busy, wait)


def _pause(worker: Any, busy: threading.Event, seconds: float) -> None:
    """Wait ``seconds``, less if the mapping stops or a poll finds the queue busy (AWS's pollers
    long-poll: a message wakes them at once)."""
    deadline = time.monotonic() + seconds
    while not worker._shutdown_event.is_set() and not busy.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        worker._shutdown_event.wait(min(left, 0.1))


def _track_busy(worker: Any, empty: type[Exception]) -> threading.Event:
    """An event set while the last poll of the mapping (by any of its pollers) found messages;
    the poller's ``poll_events`` is wrapped once to keep it."""
    busy: threading.Event | None = getattr(worker, "_chronos_busy", None)
    if busy is not None:
        return busy
    busy = threading.Event()
    poll = worker.poller.poll_events

    def poll_events() -> None:
        try:
            poll()
        except empty:
            busy.clear()
            raise
        busy.set()

    worker.poller.poll_events = poll_events
    worker._chronos_busy = busy
    return busy


def install() -> None:
    """Wrap ``EsmWorker.start`` (idempotent); a no-op where LocalStack's layout differs."""
    global _installed
    if _installed:
        return
    try:
        from localstack.config import LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC
        from localstack.services.lambda_.event_source_mapping.esm_worker import EsmWorker
        from localstack.services.lambda_.event_source_mapping.pollers.poller import EmptyPollResultsException
    except ImportError:
        LOG.warning("LocalStack's event source mapping worker not found: one poller per mapping")
        return
    original_start = EsmWorker.start

    def start(self: Any) -> None:
        if self.poller.event_source() == "aws:sqs":
            busy = _track_busy(self, EmptyPollResultsException)  # before LocalStack's loop starts
        original_start(self)
        if self.poller.event_source() != "aws:sqs":
            return
        count = poller_count(self.esm_config, os.environ.get("CHRONOS_ESM_MAX_POLLERS"))
        # A mapping stopped and started again keeps the extra pollers still running.
        extra = [t for t in getattr(self, "_chronos_extra_pollers", []) if t.is_alive()]
        for index in range(len(extra) + 1, count):
            thread = threading.Thread(
                target=_extra_poller,
                args=(self, index, LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC, busy),
                name=f"event-source-mapping-poller-{self.uuid}-{index}",
                daemon=True,
            )
            thread.start()
            extra.append(thread)
        self._chronos_extra_pollers = extra
        LOG.info("SQS mapping %s polls with %d concurrent pollers", self.uuid, count)

    EsmWorker.start = start  # type: ignore[method-assign]
    _installed = True
