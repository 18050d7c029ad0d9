"""Structural checks of statemachines/training.asl.json against the template."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from chronos_trainer import BATCH_COMMAND
from tests.template.test_template import _CfnLoader

ROOT = Path(__file__).resolve().parents[2]
ASL_TEXT = (ROOT / "statemachines" / "training.asl.json").read_text()
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


@pytest.fixture(scope="module")
def substitutions() -> dict[str, Any]:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    props = template["Resources"]["TrainingStateMachine"]["Properties"]
    assert props["DefinitionUri"] == "statemachines/training.asl.json"
    return dict(props["DefinitionSubstitutions"])


def rendered(values: dict[str, str] | None = None) -> dict[str, Any]:
    """The ASL with every placeholder replaced as CloudFormation would."""
    defaults = dict.fromkeys(
        PLACEHOLDER.findall(ASL_TEXT), "arn:aws:lambda:us-east-1:000000000000:function:x"
    )
    defaults.update({"MapMaxConcurrency": "4", "CollectMaxAttempts": "3", "TrainingBackend": "lambda"})
    defaults.update(values or {})
    return json.loads(PLACEHOLDER.sub(lambda m: defaults[m.group(1)], ASL_TEXT))  # type: ignore[no-any-return]


def states(definition: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, state in definition["States"].items():
        yield name, state
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            yield from states(processor)


def test_every_placeholder_has_a_substitution_and_back(substitutions: dict[str, Any]) -> None:
    placeholders = set(PLACEHOLDER.findall(ASL_TEXT))
    assert placeholders == set(substitutions)


def test_renders_to_valid_json_with_numeric_concurrency() -> None:
    definition = rendered()
    assert definition["QueryLanguage"] == "JSONPath"
    assert definition["States"]["CollectChunks"]["MaxConcurrency"] == 4


def test_every_task_has_retry_and_catch() -> None:
    tasks = [(n, s) for n, s in states(rendered()) if s["Type"] == "Task"]
    assert len(tasks) >= 7
    for name, state in tasks:
        assert state.get("Retry"), f"{name} has no Retry"
        assert state.get("Catch"), f"{name} has no Catch"
        for retry in state["Retry"]:
            assert retry.get("JitterStrategy") == "FULL" and retry.get("MaxDelaySeconds"), name


def test_failures_are_recorded_on_the_job() -> None:
    definition = rendered()
    top = definition["States"]
    for name, state in top.items():
        if state["Type"] in ("Task", "Map") and name != "RecordFailure":
            assert state["Catch"][0]["Next"] == "RecordFailure", name
            assert state["Catch"][0]["ResultPath"] == "$.failure", name
    assert top["RecordFailure"]["Parameters"]["Payload"] == {"job_id.$": "$.job_id", "failure.$": "$.failure"}
    assert top["RecordFailure"]["Next"] == "Failed"


def test_only_ids_and_keys_travel_in_the_state() -> None:
    top = rendered()["States"]
    assert top["CollectChunks"]["ResultPath"] is None  # chunk results are dropped, data stays in S3
    assert set(top["CollectChunks"]["ItemSelector"]) == {
        "job_id.$",
        "offset.$",
        "count.$",
        "date_from.$",
        "date_to.$",
        "pages_in_flight.$",
    }
    assert set(top["Prepare"]["ResultSelector"]) == {"dataset_key.$", "points.$"}
    assert set(top["Plan"]["ResultSelector"]) == {"chunks.$", "running.$", "pages_in_flight.$"}


def test_a_chunk_that_ran_out_of_time_is_called_again_until_complete() -> None:
    item = rendered()["States"]["CollectChunks"]["ItemProcessor"]["States"]
    collect = item["CollectChunk"]
    assert collect["ResultPath"] == "$.collected"  # the item's input (the chunk) stays for the next call
    assert collect["ResultSelector"]["complete.$"] == "$.Payload.complete"
    assert collect["Next"] == "ChunkComplete"
    choice = item["ChunkComplete"]
    assert choice["Choices"] == [
        {"Variable": "$.collected.complete", "BooleanEquals": False, "Next": "CollectChunk"}
    ]
    assert item[choice["Default"]]["Type"] == "Succeed"


def test_collection_settings_are_template_parameters_that_reach_every_function() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    variables = template["Globals"]["Function"]["Environment"]["Variables"]
    for parameter, variable in (
        ("SthPageSize", "CHRONOS_STH_PAGE_SIZE"),
        ("SthPageConcurrency", "CHRONOS_STH_PAGE_CONCURRENCY"),
        ("SthPaging", "CHRONOS_STH_PAGING"),
        ("SthAdaptive", "CHRONOS_STH_ADAPTIVE"),
        ("FiwareTimeoutSeconds", "CHRONOS_FIWARE_TIMEOUT_SECONDS"),
        ("SthTimeoutCapSeconds", "CHRONOS_STH_TIMEOUT_CAP_SECONDS"),
        ("FiwareMaxAttempts", "CHRONOS_FIWARE_MAX_ATTEMPTS"),
    ):
        assert parameter in template["Parameters"], parameter
        assert variables[variable] == {"Ref": parameter}, variable
    # The defaults work against a slow STH: no more pages in flight than its database pool.
    assert template["Parameters"]["SthPageConcurrency"]["Default"] <= 5
    assert template["Parameters"]["SthPaging"]["Default"] == "time"


def test_batch_task_contract() -> None:
    batch = rendered({"TrainingBackend": "batch"})["States"]["TrainOnBatch"]
    assert batch["Resource"] == "arn:aws:states:::batch:submitJob.sync"
    params = batch["Parameters"]
    assert {"JobName.$", "JobQueue", "JobDefinition", "Parameters"} <= set(params)
    assert params["Parameters"] == {"job_id.$": "$.job_id", "dataset_key.$": "$.dataset.dataset_key"}
    assert batch["ResultSelector"] == {"JobId.$": "$.JobId", "Status.$": "$.Status"}


def test_backend_choice_uses_the_substitution() -> None:
    for backend, target in (("batch", "TrainOnBatch"), ("lambda", "TrainOnLambda")):
        top = rendered({"TrainingBackend": backend})["States"]
        assert top["SelectTrainingBackend"]["Result"] == backend
        choice = top["TrainingBackend"]
        chosen = next(
            (c["Next"] for c in choice["Choices"] if c["StringEquals"] == backend), choice["Default"]
        )
        assert chosen == target


def test_batch_job_definition_matches_the_trainer_entrypoint() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    definition = template["Resources"]["TrainingJobDefinition"]
    container = definition["Properties"]["ContainerProperties"]
    assert container["Command"] == list(BATCH_COMMAND)  # what the local trainer runs too
    assert set(definition["Properties"]["Parameters"]) == {"job_id", "dataset_key"}
    assert {"Type": "GPU", "Value": "1"} in container["ResourceRequirements"]
    retry = definition["Properties"]["RetryStrategy"]["EvaluateOnExit"][0]
    assert retry == {"OnStatusReason": "Host EC2*", "Action": "RETRY"}  # Spot interruption


def test_the_local_train_step_is_the_batch_step_run_as_a_process() -> None:
    """Locally, Train runs functions/trainer (the image's code) through local_batch, with the
    Batch state's own job parameters, and answers what submitJob.sync answers."""
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    function = template["Resources"]["TrainModelFunction"]["Properties"]
    assert function["CodeUri"] == "functions/trainer/"
    assert function["Handler"] == "local_batch.handler"
    states = rendered({"TrainingBackend": "lambda"})["States"]
    local, batch = states["TrainOnLambda"], rendered({"TrainingBackend": "batch"})["States"]["TrainOnBatch"]
    assert local["Parameters"]["Payload"] == batch["Parameters"]["Parameters"]
    assert local["ResultSelector"] == {"JobId.$": "$.Payload.JobId", "Status.$": "$.Payload.Status"}
    assert local["ResultPath"] == batch["ResultPath"] and local["Next"] == batch["Next"]


def test_every_lambda_task_outlasts_a_database_outage_and_the_failure_stays_truthful() -> None:
    """A dependency that is away (MongoDB) is retried by every Lambda task for minutes, and the
    execution ends with the error that failed the job, not a generic one."""
    budgets = {}
    for name, state in states(rendered()):
        if state["Type"] != "Task" or "lambda" not in state["Resource"]:
            continue
        retries = [
            r for r in state["Retry"] if {"DependencyUnavailableError", "States.ALL"} & set(r["ErrorEquals"])
        ]
        assert retries, f"{name} does not retry an unavailable dependency"
        retry = retries[-1]
        budgets[name] = sum(
            min(retry["MaxDelaySeconds"], retry["IntervalSeconds"] * retry["BackoffRate"] ** k)
            for k in range(retry["MaxAttempts"])
        )
    assert set(budgets) >= {"Plan", "CollectChunk", "Prepare", "TrainOnLambda", "Finalize", "RecordFailure"}
    assert min(budgets.values()) >= 240  # seconds of backoff, before jitter
    failed = rendered()["States"]["Failed"]
    assert (failed["ErrorPath"], failed["CausePath"]) == ("$.failure.Error", "$.failure.Cause")


def test_batch_retries_the_trainer_exit_code_for_an_unavailable_dependency() -> None:
    from chronos_trainer import EXIT_UNAVAILABLE

    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    rules = template["Resources"]["TrainingJobDefinition"]["Properties"]["RetryStrategy"]["EvaluateOnExit"]
    assert {"OnExitCode": str(EXIT_UNAVAILABLE), "Action": "RETRY"} in rules


def test_the_reconciler_runs_every_minute_and_on_every_ended_execution() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    events = template["Resources"]["ReconcileTrainingFunction"]["Properties"]["Events"]
    assert events["Tick"]["Properties"]["Schedule"] == "rate(1 minute)"
    pattern = events["ExecutionEnded"]["Properties"]["Pattern"]
    # every end: a failure to record, and a freed slot for the training queue (a success too)
    assert pattern["source"] == ["aws.states"] and set(pattern["detail"]["status"]) == {
        "SUCCEEDED",
        "FAILED",
        "TIMED_OUT",
        "ABORTED",
    }


def test_the_retraining_scheduler_ticks_every_minute_and_may_start_executions() -> None:
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)  # noqa: S506
    function = template["Resources"]["ScheduleRetrainingFunction"]["Properties"]
    assert function["Events"]["Tick"]["Properties"]["Schedule"] == "rate(1 minute)"
    assert any("StepFunctionsExecutionPolicy" in p for p in function["Policies"] if isinstance(p, dict))
    reconciler = template["Resources"]["ReconcileTrainingFunction"]["Properties"]["Policies"]
    assert any("StepFunctionsExecutionPolicy" in p for p in reconciler if isinstance(p, dict))
