"""Artifact metadata, checksums, scaler JSON and the in-memory store's contract."""

from __future__ import annotations

import json

import pytest

from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.domain.artifacts import ArtifactMeta, ArtifactType, StoredArtifact, sha256_hex, verify
from chronos_core.ml.artifacts import dumps_strict, scaler_from_bytes, scaler_to_bytes
from chronos_core.ml.errors import ArtifactIntegrityError, ArtifactNotFoundError
from chronos_core.ml.transforms import ScalerParams


def _meta(data: bytes, kind: ArtifactType = ArtifactType.METADATA, job: str = "job-1") -> ArtifactMeta:
    return ArtifactMeta.for_bytes(data, kind, "model-1", job)


def test_meta_carries_ids_type_content_type_and_checksum() -> None:
    meta = _meta(b"{}")
    assert meta.model_id == "model-1" and meta.training_job_id == "job-1"
    assert meta.artifact_type is ArtifactType.METADATA
    assert meta.content_type == "application/json"
    assert meta.sha256 == sha256_hex(b"{}") and meta.size == 2
    assert meta.filename() == "model-1_job-1_metadata.json"
    assert ArtifactMeta.for_bytes(b"x", ArtifactType.INFERENCE, "m", "j").content_type == "application/x-onnx"


def test_verify_rejects_changed_bytes_and_wrong_type() -> None:
    ok = StoredArtifact(artifact_id="a", data=b"abc", meta=_meta(b"abc"))
    assert verify(ok) is ok
    with pytest.raises(ArtifactIntegrityError):
        verify(StoredArtifact(artifact_id="a", data=b"abd", meta=_meta(b"abc")))
    with pytest.raises(ArtifactIntegrityError):
        verify(ok, ArtifactType.INFERENCE)


def test_in_memory_round_trip_checksum_failure_and_idempotent_put() -> None:
    store = InMemoryArtifactStore()
    first = store.put(b"v1", _meta(b"v1"))
    assert store.get(first).data == b"v1"
    # A retried job replaces its earlier file of the same type.
    second = store.put(b"v2", _meta(b"v2"))
    assert len(store) == 1
    with pytest.raises(ArtifactNotFoundError):
        store.get(first)
    store.tamper(second, b"evil")
    with pytest.raises(ArtifactIntegrityError):
        store.get(second)
    store.put(b"other", _meta(b"other", job="job-2"))
    assert store.delete_job("job-1") == 1 and len(store) == 1


def test_scaler_round_trips_through_json_not_pickle() -> None:
    scaler = ScalerParams(features=["value"], mean=[1.5], scale=[0.25], n_samples=10)
    data = scaler_to_bytes(scaler)
    assert json.loads(data)["mean"] == [1.5]
    assert scaler_from_bytes(data) == scaler
    with pytest.raises(ValueError):
        scaler_from_bytes(b"\x80\x04K\x01.")  # a pickle is refused


def test_strict_json_refuses_nan() -> None:
    with pytest.raises(ValueError):
        dumps_strict({"x": float("nan")})
