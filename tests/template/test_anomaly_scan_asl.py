"""Structural checks of statemachines/anomaly_scan.asl.json against the template: the training
pipeline's mechanisms (Map over chunks, Retry with backoff and jitter, Catch into a recorded
failure, re-invocation of a chunk that ran out of time), and only ids travelling in the state."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml

from tests.template.test_template import _CfnLoader
from tests.template.test_training_asl import ROOT, states

ASL_TEXT = (ROOT / "statemachines" / "anomaly_scan.asl.json").read_text()
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # type: ignore[no-any-return]  # noqa: S506


def rendered() -> dict[str, Any]:
    values = dict.fromkeys(PLACEHOLDER.findall(ASL_TEXT), "arn:aws:lambda:us-east-1:000000000000:function:x")
    values.update({"MapMaxConcurrency": "4", "ScoreMaxAttempts": "5", "ScoreRetryIntervalSeconds": "3"})
    return json.loads(PLACEHOLDER.sub(lambda m: values[m.group(1)], ASL_TEXT))  # type: ignore[no-any-return]


def test_every_placeholder_has_a_substitution_and_back(template: dict[str, Any]) -> None:
    props = template["Resources"]["AnomalyScanStateMachine"]["Properties"]
    assert props["DefinitionUri"] == "statemachines/anomaly_scan.asl.json"
    assert set(PLACEHOLDER.findall(ASL_TEXT)) == set(props["DefinitionSubstitutions"])


def test_plan_map_combine_publish() -> None:
    definition = rendered()
    top = definition["States"]
    assert definition["StartAt"] == "Plan"
    assert (
        top["Plan"]["Next"],
        top["StillRunning"]["Default"],
        top["ScoreChunks"]["Next"],
        top["Combine"]["Next"],
    ) == (
        "StillRunning",
        "ScoreChunks",
        "Combine",
        "Publish",
    )
    assert top["ScoreChunks"]["Type"] == "Map" and top["ScoreChunks"]["MaxConcurrency"] == 4
    item = top["ScoreChunks"]["ItemSelector"]
    assert {"scan_id.$", "offset.$", "date_from.$", "date_to.$", "context_from.$", "count.$"} <= set(item)


def test_every_task_retries_with_jitter_and_catches_into_a_recorded_failure() -> None:
    for name, state in states(rendered()):
        if state["Type"] != "Task":
            continue
        assert state["Retry"], name
        assert all(r["JitterStrategy"] == "FULL" and r.get("BackoffRate", 1) >= 2 for r in state["Retry"]), (
            name
        )
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"], name
        assert catch["Next"] in {"RecordFailure", "RecordChunkFailure", "ChunkFailed", "Failed"}, name


def test_sth_faults_are_retried_and_data_errors_are_not() -> None:
    score = rendered()["States"]["ScoreChunks"]["ItemProcessor"]["States"]["ScoreChunk"]
    retried = {e for r in score["Retry"] for e in r["ErrorEquals"]}
    assert {"FiwareUnavailableError", "FiwareServerError", "FiwareRateLimitedError"} <= retried
    assert "ValidationError" not in retried and "States.ALL" not in retried
    fiware = next(r for r in score["Retry"] if "FiwareServerError" in r["ErrorEquals"])
    assert (fiware["MaxAttempts"], fiware["IntervalSeconds"]) == (5, 3)


def test_a_chunk_out_of_time_is_called_again_and_a_failed_one_is_recorded() -> None:
    inner = rendered()["States"]["ScoreChunks"]["ItemProcessor"]["States"]
    (loop,) = inner["ChunkComplete"]["Choices"]
    assert loop["Variable"] == "$.scored.complete" and loop["Next"] == "ScoreChunk"
    assert inner["ScoreChunk"]["Catch"][0]["Next"] == "RecordChunkFailure"
    assert inner["RecordChunkFailure"]["Parameters"]["Payload"] == {
        "scan_id.$": "$.scan_id",
        "offset.$": "$.offset",
        "failure.$": "$.failure",
    }
    (abort,) = inner["Tolerated"]["Choices"]
    assert abort["Next"] == "ChunkFailed" and inner["Tolerated"]["Default"] == "ChunkTolerated"


def test_only_ids_travel_between_the_top_level_steps() -> None:
    top = rendered()["States"]
    for name in ("Plan", "Combine", "Publish"):
        assert top[name]["Parameters"]["Payload"] == {"scan_id.$": "$.scan_id"}, name
    assert top["ScoreChunks"]["ResultPath"] is None  # chunk results stay in their checkpoints
