"""Pure rules of the training pipeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chronos_core.application.training.pipeline.events import readable_cause
from chronos_core.application.training.pipeline.keys import chunk_key
from chronos_core.domain.training_job import (
    ChunkSpec,
    TimeWindow,
    TrainingStatus,
    choose_chunk_points,
    execution_name,
    pages_in_flight_per_chunk,
    plan_chunks,
    slice_by_time,
)


def test_chunks_cover_the_window_exactly_once() -> None:
    chunks = plan_chunks(window_offset=968, count=3064, chunk_points=1000)
    assert chunks == [
        ChunkSpec(offset=968, count=1000),
        ChunkSpec(offset=1968, count=1000),
        ChunkSpec(offset=2968, count=1000),
        ChunkSpec(offset=3968, count=64),
    ]
    assert sum(c.count for c in chunks) == 3064
    assert plan_chunks(0, 0, 1000) == []


def test_time_slices_are_adjacent_whole_milliseconds_that_cover_the_window() -> None:
    first = datetime(2024, 3, 1, tzinfo=UTC)
    window = TimeWindow(first=first, last=first + timedelta(seconds=10, milliseconds=3))
    slices = slice_by_time(plan_chunks(0, 4000, 1000), window)
    assert [s.offset for s in slices] == [0, 1000, 2000, 3000]  # names kept
    assert slices[0].date_from == window.first
    assert all(a.date_to == b.date_from for a, b in zip(slices, slices[1:], strict=False))
    assert slices[-1].date_to == window.last + timedelta(milliseconds=1)  # the last point included
    assert all(s.date_from and s.date_from.microsecond % 1000 == 0 for s in slices)
    # A window shorter than the chunks: the slices still partition it, some are empty.
    instant = TimeWindow(first=first, last=first)
    tiny = slice_by_time(plan_chunks(0, 4000, 1000), instant)
    assert [(s.date_from, s.date_to) for s in tiny if s.date_from != s.date_to] == [
        (first, first + timedelta(milliseconds=1))
    ]


def test_the_page_ceiling_is_shared_by_the_chunks_that_collect_at_once() -> None:
    assert pages_in_flight_per_chunk(5, chunks=8, concurrency=4) == 1
    assert pages_in_flight_per_chunk(8, chunks=8, concurrency=4) == 2
    assert pages_in_flight_per_chunk(5, chunks=1, concurrency=4) == 5
    assert pages_in_flight_per_chunk(2, chunks=10, concurrency=40) == 1  # never zero


def test_execution_names_make_starts_idempotent_and_retries_distinct() -> None:
    assert execution_name("job-1", 1) == "job-1"
    assert execution_name("job-1", 2) == "job-1-r2"


def test_running_and_finished_statuses() -> None:
    assert TrainingStatus.QUEUED.running and TrainingStatus.TRAINING.running
    assert TrainingStatus.COMPLETED.finished and TrainingStatus.CANCELLED.finished


def test_checkpoint_keys_sort_by_offset() -> None:
    keys = [chunk_key("j", o) for o in (10000, 900, 0)]
    assert sorted(keys) == [chunk_key("j", 0), chunk_key("j", 900), chunk_key("j", 10000)]


def test_lambda_error_causes_are_reduced_to_their_message() -> None:
    cause = json.dumps(
        {"errorMessage": "STH-Comet answered HTTP 500", "errorType": "FiwareServerError", "stackTrace": ["x"]}
    )
    assert readable_cause(cause) == "STH-Comet answered HTTP 500"
    assert readable_cause("plain text") == "plain text"
    assert len(readable_cause("x" * 5000)) == 1000


def test_chunk_size_keeps_every_collector_busy_within_bounds() -> None:
    assert choose_chunk_points(4032, concurrency=4, max_points=10_000) == 1000  # floor
    assert choose_chunk_points(100_000, concurrency=4, max_points=10_000) == 10_000  # ceiling
    assert choose_chunk_points(40_000, concurrency=4, max_points=10_000) == 5000  # 2 per collector
    assert choose_chunk_points(10, concurrency=4, max_points=500) == 500
