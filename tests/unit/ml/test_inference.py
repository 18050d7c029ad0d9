"""The TensorFlow-free forecast path: encoding, context preparation, caching, integrity."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

import chronos_core
from chronos_core.adapters.artifact_store import InMemoryArtifactStore
from chronos_core.domain.artifacts import ArtifactMeta, ArtifactRefs, ArtifactType
from chronos_core.ml.artifacts import InferenceSpec, scaler_to_bytes
from chronos_core.ml.errors import ArtifactIntegrityError, InsufficientDataError, UnsupportedArtifactError
from chronos_core.ml.inference import Forecaster, ForecasterCache, load_forecaster
from chronos_core.ml.transforms import ScalerParams, TransformSpec

from .conftest import constant_network_bytes

L, H = 8, 3
BIAS = [0.0, 1.0, -1.0]
SCALER = ScalerParams(features=["value"], mean=[20.0], scale=[2.0], n_samples=100)


def _spec(normalization: str = "global") -> InferenceSpec:
    return InferenceSpec(
        lookback=L,
        horizon=H,
        interval_seconds=60.0,
        max_interpolated_gap=2,
        feature="temperature",
        transform=TransformSpec.model_validate({"window_normalization": normalization}),
    )


def _forecaster(normalization: str = "global") -> Forecaster:
    scaler = scaler_to_bytes(SCALER)
    return Forecaster.from_bytes(constant_network_bytes(L, H, BIAS), scaler, scaler, _spec(normalization))


def _metadata_bytes(spec: InferenceSpec, schema_version: int = 1) -> bytes:
    # The forecast path reads only these keys of the metadata document.
    import json

    return json.dumps({"schema_version": schema_version, "inference": spec.model_dump(mode="json")}).encode()


def _stored_job(store: InMemoryArtifactStore, job: str = "job-1") -> ArtifactRefs:
    def put(data: bytes, kind: ArtifactType) -> str:
        return store.put(data, ArtifactMeta.for_bytes(data, kind, "model-1", job))

    scaler = scaler_to_bytes(SCALER)
    return ArtifactRefs(
        model=put(b"keras-zip", ArtifactType.MODEL),
        inference=put(constant_network_bytes(L, H, BIAS), ArtifactType.INFERENCE),
        x_scaler=put(scaler, ArtifactType.X_SCALER),
        y_scaler=put(scaler, ArtifactType.Y_SCALER),
        metadata=put(_metadata_bytes(_spec()), ArtifactType.METADATA),
    )


def test_forecast_decodes_network_outputs_to_original_units() -> None:
    f = _forecaster()
    out = f.forecast(np.linspace(0, 10, 50))  # only the last L values matter
    assert out.tolist() == pytest.approx([20.0, 22.0, 18.0])  # bias * scale + mean


def test_last_value_normalization_adds_the_window_level_back() -> None:
    out = _forecaster("last_value").forecast([5.0] * L)
    assert out.tolist() == pytest.approx([5.0, 7.0, 3.0])


def test_batch_forecast_matches_single_forecasts() -> None:
    f = _forecaster("last_value")
    windows = np.random.default_rng(0).standard_normal((5, L))
    batch = f.forecast_windows(windows)
    assert batch.shape == (5, H)
    for i in range(5):
        assert np.allclose(batch[i], f.forecast(windows[i]))


def test_forecast_needs_lookback_values() -> None:
    with pytest.raises(InsufficientDataError):
        _forecaster().forecast([1.0] * (L - 1))
    with pytest.raises(InsufficientDataError):
        _forecaster().forecast([1.0] * (L - 1) + [float("nan")])


def test_forecast_points_uses_the_training_interval_and_dates_each_step() -> None:
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    points = [(t0 + timedelta(minutes=i), 20.0) for i in range(12) if i != 5]  # one short gap
    result = _forecaster().forecast_points(points)
    last = t0 + timedelta(minutes=11)
    assert result.last_observation == last
    assert result.timestamps == [last + timedelta(minutes=k) for k in (1, 2, 3)]
    assert result.values == pytest.approx([20.0, 22.0, 18.0])
    assert result.quality.status == "interpolated" and result.quality.interpolated_points == 1


def test_forecast_points_bridges_a_context_broken_by_a_long_gap() -> None:
    # Issue 13 changed this contract: a long recent gap no longer refuses the forecast. Here 5
    # points follow a 10-slot gap (limit 2); bridged, the lookback of 8 keeps 5 observed.
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    points = [(t0 + timedelta(minutes=i), 1.0) for i in list(range(10)) + list(range(20, 25))]
    result = _forecaster().forecast_points(points)
    assert result.serving == "network" and result.values == pytest.approx([20.0, 22.0, 18.0])
    assert result.quality.status == "degraded" and result.quality.interpolated_points == 3
    assert result.quality.reason is not None and "gap of 10 missing points" in result.quality.reason
    with pytest.raises(InsufficientDataError) as err:
        _forecaster().forecast_points([(t0, None), (t0 + timedelta(minutes=1), float("inf"))])
    assert err.value.details[0]["field"] == "points" and err.value.details[0]["got"] == 0


def test_forecaster_cache_keeps_loaded_models_and_evicts_lru(monkeypatch: pytest.MonkeyPatch) -> None:
    store = InMemoryArtifactStore()
    refs = _stored_job(store)
    calls: list[str] = []
    original = store.get

    def counting_get(artifact_id: str):  # type: ignore[no-untyped-def]
        calls.append(artifact_id)
        return original(artifact_id)

    monkeypatch.setattr(store, "get", counting_get)
    cache = ForecasterCache(store, max_models=1)
    first = cache.load(refs)
    assert len(calls) == 4  # metadata, inference, two scalers; never the Keras model
    assert cache.load(refs) is first
    assert len(calls) == 4
    assert len(cache) == 1
    other = _stored_job(store, job="job-2")
    cache.load(other)
    assert len(cache) == 1
    assert cache.load(refs) is not first  # evicted, loaded again
    assert len(calls) == 12
    cache.clear()
    assert len(cache) == 0
    roomy = ForecasterCache(store)  # the default keeps several models
    kept = roomy.load(refs)
    roomy.load(other)
    assert len(roomy) == 2 and roomy.load(refs) is kept


def test_load_forecaster_alone_does_not_cache() -> None:
    store = InMemoryArtifactStore()
    refs = _stored_job(store)
    first = load_forecaster(store, refs)
    assert load_forecaster(store, refs) is not first


def test_load_forecaster_fails_on_checksum_mismatch_and_wrong_types() -> None:
    store = InMemoryArtifactStore()
    refs = _stored_job(store)
    swapped = refs.model_copy(update={"inference": refs.x_scaler})
    with pytest.raises(ArtifactIntegrityError):
        load_forecaster(store, swapped)
    store.tamper(refs.inference, b"\x00" * 10)
    with pytest.raises(ArtifactIntegrityError):
        load_forecaster(store, refs)


def test_load_forecaster_refuses_unknown_metadata_schema() -> None:
    store = InMemoryArtifactStore()
    refs = _stored_job(store)
    data = _metadata_bytes(_spec(), schema_version=99)
    new_meta = store.put(data, ArtifactMeta.for_bytes(data, ArtifactType.METADATA, "model-1", "job-1"))
    with pytest.raises(UnsupportedArtifactError):
        load_forecaster(store, refs.model_copy(update={"metadata": new_meta}))


def test_inference_path_never_imports_tensorflow() -> None:
    code = (
        "import sys\n"
        "from chronos_core.ml import inference, artifacts, preprocessing, metrics\n"
        "from chronos_core.adapters import artifact_store\n"
        "import onnxruntime\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TF imported'\n"
    )
    layer = Path(chronos_core.__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(layer), os.environ.get("PYTHONPATH", "")])}
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, env=env)
