"""Reading one chunk of a series over as many calls as it takes, shared by the pipelines that
read STH-Comet by chunks: the training's CollectChunk and the anomaly scan's ScoreChunk.

A call reads what it can within its time budget (the series source stops before the budget runs
out and says what is left); the points read so far wait in the chunk's *partial checkpoint*,
and the next call continues from there. The caller writes its own checkpoint once the chunk is
complete, and then drops the partial one (:func:`drop_partial`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chronos_core.application.ports.pipeline import ObjectStore, SeriesSource
from chronos_core.domain.model import FiwareSource, epoch_ms
from chronos_core.domain.training_job import ChunkSpec


@dataclass(frozen=True)
class ChunkRead:
    """The chunk's points read so far, ``[epoch ms, value]`` oldest first, and whether that is
    all of them."""

    rows: list[list[Any]]
    complete: bool


def read_chunk(
    objects: ObjectStore,
    series: SeriesSource,
    source: FiwareSource,
    chunk: ChunkSpec,
    *,
    partial_key: str,
    pages_in_flight: int = 1,
) -> ChunkRead:
    """Continue reading ``chunk`` from its partial checkpoint (if any). When the read stops for
    time, what it holds is written back to the partial checkpoint with the part left to read."""
    held, todo = _resume(objects, partial_key, chunk)
    part = series.collect(source, todo, pages_in_flight=pages_in_flight)
    rows = held + [[epoch_ms(t), v] for t, v in part.points]
    if part.rest is None:
        return ChunkRead(rows, complete=True)
    objects.put_json(
        partial_key,
        {
            "offset": chunk.offset,
            "requested": chunk.count,
            "points": rows,
            "rest": part.rest.model_dump(mode="json"),
        },
    )
    return ChunkRead(rows, complete=False)


def drop_partial(objects: ObjectStore, partial_key: str) -> None:
    """Forget a chunk's partial checkpoint (its own checkpoint is written)."""
    objects.delete_prefix(partial_key)


def _resume(objects: ObjectStore, partial_key: str, chunk: ChunkSpec) -> tuple[list[list[Any]], ChunkSpec]:
    """The points held by the chunk's partial checkpoint and what is left to read."""
    if not objects.exists(partial_key):
        return [], chunk
    saved = objects.get_json(partial_key)
    return list(saved["points"]), ChunkSpec.model_validate(saved["rest"])
