"""GridFS artifact store against the real MongoDB-compatible server."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId
from pymongo.database import Database

from chronos_core.adapters.artifact_store import BUCKET_NAME, GridFSArtifactStore
from chronos_core.domain.artifacts import ArtifactMeta, ArtifactType
from chronos_core.ml.errors import ArtifactIntegrityError, ArtifactNotFoundError

pytestmark = pytest.mark.integration


def _put(store: GridFSArtifactStore, data: bytes, kind: ArtifactType, job: str) -> str:
    return store.put(data, ArtifactMeta.for_bytes(data, kind, "model-1", job))


def test_round_trip_metadata_and_checksum_failure(ml_db: Database[Any]) -> None:
    store = GridFSArtifactStore(ml_db)
    store.ensure_indexes()
    payload = bytes(range(256)) * 2000  # > one GridFS chunk
    artifact_id = _put(store, payload, ArtifactType.INFERENCE, "job-rt")
    got = store.get(artifact_id)
    assert got.data == payload
    assert got.meta.artifact_type is ArtifactType.INFERENCE
    assert got.meta.content_type == "application/x-onnx"
    assert (got.meta.model_id, got.meta.training_job_id) == ("model-1", "job-rt")
    assert BUCKET_NAME == "model_artifacts"  # the bucket the artifact contract names
    files = ml_db["model_artifacts.files"].find_one({"_id": ObjectId(artifact_id)})
    assert files is not None and files["metadata"]["sha256"] == got.meta.sha256

    # Corrupt one stored chunk: the read must fail its integrity check.
    ml_db["model_artifacts.chunks"].update_one(
        {"files_id": ObjectId(artifact_id), "n": 0}, {"$set": {"data": b"\x00" * 255 * 1024}}
    )
    with pytest.raises(ArtifactIntegrityError):
        store.get(artifact_id)


def test_put_is_idempotent_per_job_and_type(ml_db: Database[Any]) -> None:
    store = GridFSArtifactStore(ml_db)
    first = _put(store, b'{"v": 1}', ArtifactType.METADATA, "job-idem")
    second = _put(store, b'{"v": 2}', ArtifactType.METADATA, "job-idem")
    _put(store, b"{}", ArtifactType.X_SCALER, "job-idem")
    assert store.get(second).data == b'{"v": 2}'
    with pytest.raises(ArtifactNotFoundError):
        store.get(first)
    assert store.delete_job("job-idem") == 2
    with pytest.raises(ArtifactNotFoundError):
        store.get(second)


def test_unknown_and_malformed_ids_are_not_found(ml_db: Database[Any]) -> None:
    store = GridFSArtifactStore(ml_db)
    with pytest.raises(ArtifactNotFoundError):
        store.get(str(ObjectId()))
    with pytest.raises(ArtifactNotFoundError):
        store.get("not-an-object-id")
