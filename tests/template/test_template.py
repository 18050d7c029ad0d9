"""The SAM template lints clean and wires what the code expects."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
SAM = ROOT / ".local" / "sam-venv" / "bin" / "sam"


class _CfnLoader(yaml.SafeLoader):
    """Reads CloudFormation short-form tags (!Ref, !Sub, ...) as plain values."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


def test_cfn_lint_has_no_errors() -> None:
    cfn_lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or "cfn-lint"
    result = subprocess.run([cfn_lint, str(TEMPLATE)], capture_output=True, text=True, check=False)
    # cfn-lint exit codes: bit 2 = errors, 4 = warnings, 8 = informational.
    assert result.returncode & 2 == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes() -> None:
    assert SAM.exists(), "aws-sam-cli is missing: run local/bootstrap.sh"
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
    result = subprocess.run(
        [str(SAM), "validate", "--lint", "--template-file", str(TEMPLATE)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_points_at_a_real_handler(template: dict[str, Any]) -> None:
    functions = {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }
    assert functions
    for name, props in functions.items():
        if props.get("PackageType") == "Image":
            continue
        module, attr = props["Handler"].rsplit(".", 1)
        source = ROOT / props["CodeUri"] / f"{module}.py"
        assert source.exists(), f"{name}: {source} missing"
        assert f"def {attr}(" in source.read_text(), f"{name}: no {attr}() in {source}"


def test_runtime_and_layer(template: dict[str, Any]) -> None:
    glob = template["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13"
    assert {"Ref": "ChronosCoreLayer"} in glob["Layers"]
    layer = template["Resources"]["ChronosCoreLayer"]
    assert layer["Metadata"]["BuildMethod"] == "python3.13"
    content = ROOT / layer["Properties"]["ContentUri"]
    assert (content / "chronos_core" / "__init__.py").exists()
    assert (content / "requirements.txt").exists()
    assert not (content / "python").exists(), "BuildMethod puts the package under python/ itself"


def test_api_is_a_rest_api_with_a_proxy_route(template: dict[str, Any]) -> None:
    assert template["Resources"]["ChronosApi"]["Type"] == "AWS::Serverless::Api"
    events = template["Resources"]["ApiFunction"]["Properties"]["Events"]
    assert {e["Properties"]["Path"] for e in events.values()} == {"/", "/{proxy+}"}


def test_no_secret_defaults(template: dict[str, Any]) -> None:
    assert "Default" not in template["Parameters"]["MongoDbUri"]
    assert template["Parameters"]["MongoDbUri"]["NoEcho"] is True


def test_stage_throttling_comes_from_parameters(template: dict[str, Any]) -> None:
    settings = template["Resources"]["ChronosApi"]["Properties"]["MethodSettings"]
    assert settings == [
        {
            "ResourcePath": "/*",
            "HttpMethod": "*",
            "ThrottlingRateLimit": {"Ref": "ThrottlingRateLimit"},
            "ThrottlingBurstLimit": {"Ref": "ThrottlingBurstLimit"},
        }
    ]
    assert template["Parameters"]["ThrottlingRateLimit"]["Type"] == "Number"


def test_the_forecast_workers_concurrency_is_a_parameter(template: dict[str, Any]) -> None:
    source = template["Resources"]["ExecuteForecastFunction"]["Properties"]["Events"]["Forecasts"]
    assert source["Properties"]["ScalingConfig"] == {
        "MaximumConcurrency": {"Ref": "ForecastWorkerConcurrency"}
    }
    parameter = template["Parameters"]["ForecastWorkerConcurrency"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (5, 2, 1000)  # SQS's range
