"""STH-Comet as the pipeline's series source: the model's tenant and series, floats out."""

from __future__ import annotations

from datetime import datetime

from chronos_core.adapters.fiware.sth import SthCometClient, SthPoint
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from chronos_core.domain.model import FiwareSource


def _series(source: FiwareSource) -> SeriesRef:
    return SeriesRef(entity_type=source.entity_type, entity_id=source.entity_id, attribute=source.feature)


def _pairs(points: list[SthPoint]) -> list[tuple[datetime, float | None]]:
    return [(p.recv_time, p.as_float()) for p in points]


class SthSeriesSource:
    """:class:`~chronos_core.application.ports.pipeline.SeriesSource` over an :class:`SthCometClient`."""

    def __init__(self, client: SthCometClient, concurrency: int | None = None) -> None:
        self._client = client
        self._concurrency = concurrency

    def count(self, source: FiwareSource) -> int:
        return self._client.count(FiwareTenant.of(source), _series(source))

    def fetch_range(
        self, source: FiwareSource, offset: int, count: int
    ) -> list[tuple[datetime, float | None]]:
        points = self._client.fetch_range(
            FiwareTenant.of(source), _series(source), offset, count, concurrency=self._concurrency
        )
        return _pairs(points)

    def last_n(self, source: FiwareSource, n: int) -> list[tuple[datetime, float | None]]:
        return _pairs(self._client.last_n(FiwareTenant.of(source), _series(source), n))
