"""The anomaly-scan repository: ``anomaly_scans``, with ``anomaly_chunks`` and
``anomaly_findings``.

The only writer of these collections. It implements the scan ports
(:mod:`chronos_core.application.ports.anomaly`), the same way the training-job repository
implements the job ports:

* Writes made for the pipeline are conditional on the scan still running, so they are idempotent
  and never revive a finished scan.
* Chunk states go to ``anomaly_chunks``, one document per (scan, offset): concurrent chunks never
  write the same document (FerretDB v1 rewrites whole documents), and the scan's counters and
  failed chunks are derived from them on read. The scan document changes only on transitions.
* Findings (``anomaly_findings``): one document per event or data-quality issue, ``seq`` their
  order; a combine replaces a scan's findings as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

from chronos_core.adapters.mongo.client import (
    ANOMALY_CHUNKS,
    ANOMALY_FINDINGS,
    ANOMALY_SCANS,
    Document,
    with_retries,
)
from chronos_core.application.ports.models import Page
from chronos_core.domain.anomaly import (
    RUNNING_SCAN_STATUSES,
    AnomalyEvent,
    AnomalyScan,
    ChunkFailure,
    ChunkRecord,
    QualityIssue,
    ScanPhase,
    ScanPlan,
    ScanStatus,
    ScanSummary,
)
from chronos_core.domain.errors import ConflictError
from chronos_core.domain.ids import ModelId, ScanId
from chronos_core.domain.model import utcnow
from chronos_core.domain.training_job import ExecutionRef, JobError

_RUNNING: Final = [s.value for s in RUNNING_SCAN_STATUSES]
_RETRYABLE: Final = [ScanStatus.FAILED.value, ScanStatus.COMPLETED_WITH_FAILURES.value]


def document_to_scan(doc: Document, records: Sequence[ChunkRecord]) -> AnomalyScan:
    """The scan, with its progress counters and failed chunks derived from its chunk records."""
    progress = dict(doc.get("progress") or {})
    scored = [r for r in records if r.state == "scored"]
    failed = sorted((r for r in records if r.state == "failed"), key=lambda r: r.offset)
    progress.update(
        chunks_done=len(scored),
        chunks_failed=len(failed),
        points_read=sum(r.points_read for r in records if r.state != "failed"),
        points_scored=sum(r.points_scored for r in scored),
        anomalies_so_far=sum(r.anomalies for r in scored),
    )
    failures = [ChunkFailure(offset=r.offset, error=r.error or "Error", cause=r.cause or "") for r in failed]
    return AnomalyScan.model_validate({**doc, "progress": progress, "failed_chunks": failures})


class MongoAnomalyScanRepository:
    """The scan ports on MongoDB (see the module docstring)."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._scans: Collection[Document] = db[ANOMALY_SCANS]
        self._chunks: Collection[Document] = db[ANOMALY_CHUNKS]
        self._attempts = attempts

    # ------------------------------------------------------------------ reads

    def _records(self, scan_ids: list[str]) -> dict[str, list[ChunkRecord]]:
        found: dict[str, list[ChunkRecord]] = {scan_id: [] for scan_id in scan_ids}
        for doc in self._chunks.find({"scan_id": {"$in": scan_ids}}, {"_id": 0, "scan_id": 1, "record": 1}):
            found[doc["scan_id"]].append(ChunkRecord.model_validate(doc["record"]))
        return found

    def _scan(self, doc: Document | None) -> AnomalyScan | None:
        if doc is None:
            return None
        return document_to_scan(doc, self._records([doc["id"]])[doc["id"]])

    @with_retries
    def get(self, scan_id: ScanId) -> AnomalyScan | None:
        return self._scan(self._scans.find_one({"id": scan_id}, {"_id": 0}))

    @with_retries
    def status_of(self, scan_id: ScanId) -> ScanStatus | None:
        doc = self._scans.find_one({"id": scan_id}, {"_id": 0, "status": 1})
        return ScanStatus(doc["status"]) if doc else None

    @with_retries
    def list_for_model(self, model_id: ModelId, skip: int, limit: int) -> Page[AnomalyScan]:
        query = {"model_id": model_id}
        total = self._scans.count_documents(query)
        docs = list(
            self._scans.find(query, {"_id": 0}).sort("created_at", DESCENDING).skip(skip).limit(limit)
        )
        records = self._records([d["id"] for d in docs])
        return Page(
            items=[document_to_scan(d, records[d["id"]]) for d in docs], total=total, skip=skip, limit=limit
        )

    @with_retries
    def running_scans(self, limit: int) -> list[AnomalyScan]:
        cursor = (
            self._scans.find({"status": {"$in": _RUNNING}}, {"_id": 0})
            .sort("updated_at", ASCENDING)
            .limit(limit)
        )
        docs = list(cursor)
        records = self._records([d["id"] for d in docs])
        return [document_to_scan(d, records[d["id"]]) for d in docs]

    @with_retries
    def chunk_records(self, scan_id: ScanId) -> dict[int, ChunkRecord]:
        return {r.offset: r for r in self._records([scan_id])[scan_id]}

    # ------------------------------------------------------------------ lifecycle

    @with_retries
    def add(self, scan: AnomalyScan) -> None:
        try:
            self._scans.insert_one(scan.model_dump(mode="python", exclude={"failed_chunks"}))
        except DuplicateKeyError as exc:
            raise ConflictError(f"Anomaly scan {scan.id} already exists") from exc

    @with_retries
    def attach_execution(self, scan_id: ScanId, arn: str, started_at: datetime) -> AnomalyScan | None:
        fields = {"execution.arn": arn, "execution.started_at": started_at, "updated_at": utcnow()}
        doc = self._scans.find_one_and_update(
            {"id": scan_id, "status": ScanStatus.PENDING.value},
            {"$set": {**fields, "status": ScanStatus.QUEUED.value}},
            return_document=ReturnDocument.AFTER,
        )
        return self._scan(doc) if doc is not None else self._update_running(scan_id, fields)

    @with_retries
    def reopen_for_retry(self, scan_id: ScanId, execution: ExecutionRef) -> AnomalyScan | None:
        doc = self._scans.find_one_and_update(
            {"id": scan_id, "status": {"$in": _RETRYABLE}},
            {
                "$set": {
                    "status": ScanStatus.PENDING.value,
                    "error": None,
                    "summary": None,
                    "ended_at": None,
                    "execution": execution.model_dump(),
                    "updated_at": utcnow(),
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return None
        self._chunks.delete_many({"scan_id": scan_id, "record.state": "failed"})
        return self._scan(doc)

    def finish(
        self, scan_id: ScanId, status: ScanStatus, *, error: JobError | None = None
    ) -> AnomalyScan | None:
        doc = self._running_timings(scan_id)
        if doc is None:
            return None
        now = utcnow()
        updates: dict[str, Any] = {"status": status.value, "ended_at": now, **_closing(doc, now)}
        if error is not None:
            updates["error"] = error.model_dump()
        return self._update_running(scan_id, updates)

    # ------------------------------------------------------------------ the pipeline's journal

    def start_scoring(self, scan_id: ScanId, plan: ScanPlan) -> AnomalyScan | None:
        return self.enter_phase(
            scan_id,
            ScanPhase.SCORE,
            status=ScanStatus.RUNNING,
            fields={
                "window": plan.window.model_dump(),
                "points_expected": plan.points_expected,
                "chunk_points": plan.chunk_points,
                "context_seconds": plan.context_seconds,
                "context_points": plan.context_points,
                "interval_seconds": plan.interval_seconds,
                "progress.chunks_total": plan.chunks_total,
                "progress.points_expected": plan.points_expected,
            },
        )

    def enter_phase(
        self,
        scan_id: ScanId,
        phase: ScanPhase,
        *,
        status: ScanStatus | None = None,
        fields: Document | None = None,
    ) -> AnomalyScan | None:
        """Close the other open phases and start ``phase`` (its first start kept)."""
        doc = self._running_timings(scan_id)
        if doc is None:
            return None
        now = utcnow()
        updates: dict[str, Any] = {"phase": phase.value, **_closing(doc, now, keep=phase), **(fields or {})}
        if status is not None:
            updates["status"] = status.value
        timing = (doc.get("phases") or {}).get(phase.value) or {}
        if timing.get("started_at") is None:
            updates[f"phases.{phase.value}.started_at"] = now
        updates[f"phases.{phase.value}.ended_at"] = None
        if doc.get("started_at") is None:
            updates["started_at"] = now
        return self._update_running(scan_id, updates)

    @with_retries
    def record_chunk(self, scan_id: ScanId, record: ChunkRecord) -> bool:
        if self._scans.count_documents({"id": scan_id, "status": {"$in": _RUNNING}}, limit=1) == 0:
            return False
        doc = {"scan_id": scan_id, "record": record.model_dump(), "recorded_at": utcnow()}
        key = {"_id": f"{scan_id}|{record.offset}"}
        try:
            self._chunks.replace_one(key, doc, upsert=True)
        except DuplicateKeyError:  # a concurrent retry of the same chunk inserted it first
            self._chunks.replace_one(key, doc)
        return True

    def record_summary(self, scan_id: ScanId, summary: ScanSummary) -> AnomalyScan | None:
        return self._update_running(scan_id, {"summary": summary.model_dump(mode="python")})

    @with_retries
    def _running_timings(self, scan_id: ScanId) -> Document | None:
        doc = self._scans.find_one({"id": scan_id}, {"_id": 0, "status": 1, "phases": 1, "started_at": 1})
        return doc if doc is not None and doc.get("status") in _RUNNING else None

    @with_retries
    def _update_running(self, scan_id: ScanId, changes: Document) -> AnomalyScan | None:
        doc = self._scans.find_one_and_update(
            {"id": scan_id, "status": {"$in": _RUNNING}},
            {"$set": {**changes, "updated_at": utcnow()}},
            return_document=ReturnDocument.AFTER,
        )
        return self._scan(doc)

    @with_retries
    def delete(self, scan_id: ScanId) -> bool:
        """Delete the scan with its chunk records and findings; True if it existed."""
        self._chunks.delete_many({"scan_id": scan_id})
        self._scans.database[ANOMALY_FINDINGS].delete_many({"scan_id": scan_id})
        return self._scans.delete_one({"id": scan_id}).deleted_count == 1


def _closing(doc: Document, now: datetime, keep: ScanPhase | None = None) -> dict[str, Any]:
    """``$set`` fields that close the open phase timings of ``doc`` (but ``keep``)."""
    return {
        f"phases.{name}.ended_at": now
        for name, timing in (doc.get("phases") or {}).items()
        if name != (keep.value if keep else None)
        and timing.get("started_at") is not None
        and timing.get("ended_at") is None
    }


class MongoAnomalyFindings:
    """:class:`~chronos_core.application.ports.anomaly.AnomalyFindings` on ``anomaly_findings``."""

    def __init__(self, db: Database[Document], attempts: int = 3) -> None:
        self._findings: Collection[Document] = db[ANOMALY_FINDINGS]
        self._attempts = attempts

    @with_retries
    def replace(
        self, scan_id: ScanId, events: Sequence[AnomalyEvent], issues: Sequence[QualityIssue]
    ) -> None:
        self._findings.delete_many({"scan_id": scan_id})
        docs = [
            {"scan_id": scan_id, "category": "value", "seq": i, "finding": e.model_dump(mode="python")}
            for i, e in enumerate(events)
        ] + [
            {"scan_id": scan_id, "category": "data_quality", "seq": i, "finding": q.model_dump(mode="python")}
            for i, q in enumerate(issues)
        ]
        for start in range(0, len(docs), 1000):
            self._findings.insert_many(docs[start : start + 1000], ordered=False)

    def events(self, scan_id: ScanId, skip: int, limit: int) -> Page[AnomalyEvent]:
        items, total = self._page(scan_id, "value", skip, limit)
        return Page(
            items=[AnomalyEvent.model_validate(d) for d in items], total=total, skip=skip, limit=limit
        )

    def issues(self, scan_id: ScanId, skip: int, limit: int) -> Page[QualityIssue]:
        items, total = self._page(scan_id, "data_quality", skip, limit)
        return Page(
            items=[QualityIssue.model_validate(d) for d in items], total=total, skip=skip, limit=limit
        )

    @with_retries
    def _page(self, scan_id: ScanId, category: str, skip: int, limit: int) -> tuple[list[Document], int]:
        query = {"scan_id": scan_id, "category": category}
        total = self._findings.count_documents(query)
        cursor = (
            self._findings.find(query, {"_id": 0, "finding": 1})
            .sort("seq", ASCENDING)
            .skip(skip)
            .limit(limit)
        )
        return [d["finding"] for d in cursor], total
