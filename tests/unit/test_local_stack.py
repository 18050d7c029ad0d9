"""local/stack.py's FIWARE endpoints: which components are external (``CHRONOS_*_URL``), which the
sandbox serves, what ``deploy`` passes, what ``up`` starts and probes, what ``down`` stops. No
network, no process: ``procs``, ``localstack_ctl`` and the probe are replaced."""

from __future__ import annotations

import itertools
import json
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from local import postgresql, stack
from local.fiware_sandbox.__main__ import _parser as sandbox_parser
from tests.e2e.conftest import SandboxControl, SandboxUnavailableError

STH, ORION, IOTA = "http://sth.example:8666", "http://orion.example:1026", "http://iota.example:4041"
GIVEN = {
    "sth": ("CHRONOS_STH_URL", STH),
    "orion": ("CHRONOS_ORION_URL", ORION),
    "iota": ("CHRONOS_IOT_AGENT_URL", IOTA),
}
SUBSETS = [
    tuple(names) for size in range(4) for names in itertools.combinations(("orion", "sth", "iota"), size)
]


def env_with(*external: str, **extra: str) -> dict[str, str]:
    return {**{GIVEN[name][0]: GIVEN[name][1] for name in external}, **extra}


# ------------------------------------------------------------------------------ endpoint resolution


def test_without_any_url_everything_is_the_sandbox_on_todays_ports() -> None:
    endpoints = stack.Endpoints.from_env({})
    assert endpoints == stack.Endpoints(
        mongodb_uri="mongodb://127.0.0.1:27118/",
        localstack_url="http://127.0.0.1:4610",
        sth_url="http://127.0.0.1:18666",
        orion_url="http://127.0.0.1:11026",
        iot_agent_url="http://127.0.0.1:14041",
    )
    assert endpoints.external == ()
    assert endpoints.sandbox_components == ("orion", "sth", "iota")
    assert endpoints.sandbox_ports == {"orion": 11026, "sth": 18666, "iota": 14041}


def test_the_sandbox_ports_are_still_overridable() -> None:
    endpoints = stack.Endpoints.from_env(
        {
            "CHRONOS_SANDBOX_ORION_PORT": "21026",
            "CHRONOS_SANDBOX_STH_PORT": "28666",
            "CHRONOS_SANDBOX_IOTA_PORT": "24041",
        }
    )
    assert endpoints.fiware_urls == {
        "orion": "http://127.0.0.1:21026",
        "sth": "http://127.0.0.1:28666",
        "iota": "http://127.0.0.1:24041",
    }
    assert endpoints.external == ()


@pytest.mark.parametrize("external", SUBSETS, ids=lambda names: "+".join(names) or "none")
def test_any_subset_of_components_can_be_external(external: tuple[str, ...]) -> None:
    endpoints = stack.Endpoints.from_env(env_with(*external, CHRONOS_SANDBOX_STH_PORT="28666"))
    sandbox_urls = {
        "orion": "http://127.0.0.1:11026",
        "sth": "http://127.0.0.1:28666",
        "iota": "http://127.0.0.1:14041",
    }
    assert endpoints.external == external
    assert endpoints.sandbox_components == tuple(n for n in ("orion", "sth", "iota") if n not in external)
    assert endpoints.fiware_urls == {
        name: GIVEN[name][1] if name in external else sandbox_urls[name] for name in ("orion", "sth", "iota")
    }
    assert set(endpoints.sandbox_ports) == set(endpoints.sandbox_components)
    # The external ones are never bound by the sandbox, whatever CHRONOS_SANDBOX_*_PORT says.
    assert all(
        f"127.0.0.1:{port}" not in GIVEN.get(n, ("", ""))[1] for n, port in endpoints.sandbox_ports.items()
    )


def test_an_external_url_loses_its_trailing_slash_and_keeps_its_path() -> None:
    endpoints = stack.Endpoints.from_env({"CHRONOS_STH_URL": " https://fiware.example/sth/ "})
    assert endpoints.sth_url == "https://fiware.example/sth"
    assert endpoints.external == ("sth",)


def test_an_empty_variable_is_not_an_external_component() -> None:
    assert stack.Endpoints.from_env({"CHRONOS_ORION_URL": "", "CHRONOS_STH_URL": "  "}).external == ()


@pytest.mark.parametrize("value", ["127.0.0.1:8666", "ftp://host/", "http://", "http://host:port/"])
def test_a_malformed_url_is_refused_naming_its_variable(value: str) -> None:
    with pytest.raises(SystemExit, match="CHRONOS_STH_URL"):
        stack.Endpoints.from_env({"CHRONOS_STH_URL": value})


def test_a_malformed_sandbox_port_is_refused_naming_its_variable() -> None:
    with pytest.raises(SystemExit, match="CHRONOS_SANDBOX_IOTA_PORT"):
        stack.Endpoints.from_env({"CHRONOS_SANDBOX_IOTA_PORT": "abc"})


def test_endpoints_survive_the_json_file_and_older_files_have_no_external_component() -> None:
    endpoints = stack.Endpoints.from_env(env_with("sth", "iota"))
    data = json.loads(json.dumps(endpoints.to_json()))
    assert data["external"] == ["sth", "iota"] and data["sandbox"] == ["orion"]
    assert stack.Endpoints.from_json(data) == endpoints
    older = {k: v for k, v in data.items() if k not in ("external", "sandbox")}
    assert stack.Endpoints.from_json(older).external == ()


def test_describe_marks_only_the_external_urls() -> None:
    default = stack.Endpoints.from_env({}).describe()
    assert default == [
        "mongodb_uri      mongodb://127.0.0.1:27118/",
        "localstack_url   http://127.0.0.1:4610",
        "sth_url          http://127.0.0.1:18666",
        "orion_url        http://127.0.0.1:11026",
        "iot_agent_url    http://127.0.0.1:14041",
    ]
    lines = stack.Endpoints.from_env(env_with("orion")).describe()
    assert f"orion_url        {ORION}  (external: CHRONOS_ORION_URL)" in lines
    assert "sth_url          http://127.0.0.1:18666" in lines


# ------------------------------------------------------------------------------ deploy parameters


@pytest.mark.parametrize("external", SUBSETS, ids=lambda names: "+".join(names) or "none")
def test_deploy_passes_the_effective_urls(external: tuple[str, ...]) -> None:
    endpoints = stack.Endpoints.from_env(env_with(*external))
    parameters = stack.deploy_parameters(endpoints)
    assert parameters["SthUrl"] == endpoints.sth_url
    assert parameters["OrionUrl"] == endpoints.orion_url
    assert parameters["IotAgentUrl"] == endpoints.iot_agent_url
    for name in external:
        key = {"sth": "SthUrl", "orion": "OrionUrl", "iota": "IotAgentUrl"}[name]
        assert parameters[key] == GIVEN[name][1]


def test_deploy_parameters_by_default_are_the_sandboxs() -> None:
    parameters = stack.deploy_parameters(stack.Endpoints.from_env({}))
    assert (parameters["SthUrl"], parameters["OrionUrl"], parameters["IotAgentUrl"]) == (
        "http://127.0.0.1:18666",
        "http://127.0.0.1:11026",
        "http://127.0.0.1:14041",
    )


def test_collection_settings_in_the_environment_reach_the_deployment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for variable in stack.COLLECTION_PARAMETERS:
        monkeypatch.delenv(variable, raising=False)
    defaults = stack.deploy_parameters(stack.Endpoints.from_env({}))
    # Always passed (an update would keep an earlier override), the template's defaults when unset.
    assert {
        p: defaults[p] for p in ("SthPageConcurrency", "SthPaging", "SthAdaptive", "FiwareTimeoutSeconds")
    } == {
        "SthPageConcurrency": "5",
        "SthPaging": "time",
        "SthAdaptive": "true",
        "FiwareTimeoutSeconds": "15",
    }
    monkeypatch.setenv("CHRONOS_STH_PAGE_CONCURRENCY", "2")
    monkeypatch.setenv("CHRONOS_STH_PAGING", "offset")
    monkeypatch.setenv("CHRONOS_FIWARE_TIMEOUT_SECONDS", "10")
    given = stack.deploy_parameters(stack.Endpoints.from_env({}))
    assert (given["SthPageConcurrency"], given["SthPaging"], given["FiwareTimeoutSeconds"]) == (
        "2",
        "offset",
        "10",
    )
    template = (stack.ROOT / "template.yaml").read_text()
    assert all(f"  {parameter}:\n" in template for parameter in stack.COLLECTION_PARAMETERS.values())


def test_anomaly_scans_get_their_own_sth_page_size_and_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scan's Plan and ScoreChunk functions override the STH page size and ceiling with the
    Anomaly* parameters (training keeps SthPageSize / SthPageConcurrency); locally they come from
    CHRONOS_ANOMALY_STH_PAGE_SIZE / _CONCURRENCY, the template's defaults when unset."""
    for variable in stack.COLLECTION_PARAMETERS:
        monkeypatch.delenv(variable, raising=False)
    defaults = stack.deploy_parameters(stack.Endpoints.from_env({}))
    assert (defaults["AnomalySthPageSize"], defaults["AnomalySthPageConcurrency"]) == ("1000", "8")
    assert (defaults["SthPageSize"], defaults["SthPageConcurrency"]) == ("100", "5")
    monkeypatch.setenv("CHRONOS_ANOMALY_STH_PAGE_SIZE", "500")
    assert stack.deploy_parameters(stack.Endpoints.from_env({}))["AnomalySthPageSize"] == "500"
    template = (stack.ROOT / "template.yaml").read_text()
    for function in ("PlanAnomalyScanFunction", "ScoreAnomalyChunkFunction"):
        body = template.split(f"  {function}:\n", 1)[1].split("\n  # ", 1)[0].split("\n\n", 1)[0]
        assert "CHRONOS_STH_PAGE_SIZE: !Ref AnomalySthPageSize" in body, function
        assert "CHRONOS_STH_PAGE_CONCURRENCY: !Ref AnomalySthPageConcurrency" in body, function


def test_stack_outputs_list_the_effective_urls_and_which_are_external(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class FakeCloudFormation:
        def describe_stacks(self, StackName: str) -> dict[str, Any]:  # noqa: N803 - boto3's name
            outputs = [
                {"OutputKey": "ApiId", "OutputValue": "abc"},
                {"OutputKey": "StageName", "OutputValue": "dev"},
            ]
            return {"Stacks": [{"Outputs": outputs}]}

    monkeypatch.setattr(stack, "local_client", lambda service, url: FakeCloudFormation())
    outputs = stack.stack_outputs(stack.Endpoints.from_env(env_with("sth")))
    assert outputs["SthUrl"] == STH
    assert (
        outputs["OrionUrl"] == "http://127.0.0.1:11026" and outputs["IotAgentUrl"] == "http://127.0.0.1:14041"
    )
    assert outputs["FiwareExternal"] == ["sth"] and outputs["FiwareSandbox"] == ["orion", "iota"]
    assert outputs["ApiUrl"] == "http://127.0.0.1:4610/_aws/execute-api/abc/dev"


# ------------------------------------------------------------------------------ the sandbox process


def test_with_every_component_from_the_sandbox_its_command_is_todays() -> None:
    endpoints = stack.Endpoints.from_env({})
    assert stack.sandbox_command(endpoints) == [
        str(stack.project_python()),
        "-m",
        "local.fiware_sandbox",
        "serve",
        "--orion-port",
        "11026",
        "--sth-port",
        "18666",
        "--iota-port",
        "14041",
        "--mongodb-uri",
        "mongodb://127.0.0.1:27118/",
    ]
    assert stack.sandbox_config(endpoints) == {
        "components": ["orion", "sth", "iota"],
        "ports": {"orion": 11026, "sth": 18666, "iota": 14041},
    }


def test_the_sandbox_serves_only_the_components_not_external() -> None:
    endpoints = stack.Endpoints.from_env(env_with("sth"))
    command = stack.sandbox_command(endpoints)
    assert command[4:] == [
        "--orion-port",
        "11026",
        "--iota-port",
        "14041",
        "--components",
        "orion,iota",
        "--mongodb-uri",
        "mongodb://127.0.0.1:27118/",
    ]
    assert "--sth-port" not in command and "18666" not in command
    args = sandbox_parser().parse_args(command[3:])
    assert args.components == ("orion", "iota")


def test_no_sandbox_when_every_component_is_external() -> None:
    assert stack.sandbox_config(stack.Endpoints.from_env(env_with("orion", "sth", "iota"))) is None


def test_the_sandbox_cli_takes_any_non_empty_subset_in_its_own_order() -> None:
    assert sandbox_parser().parse_args(["serve"]).components == ("orion", "sth", "iota")
    assert sandbox_parser().parse_args(["serve", "--components", "iota, sth"]).components == ("sth", "iota")
    for bad in ("", "sth,cygnus"):
        with pytest.raises(SystemExit):
            sandbox_parser().parse_args(["serve", "--components", bad])


ALL = {"components": ["orion", "sth", "iota"], "ports": {"orion": 11026, "sth": 18666, "iota": 14041}}
STH_ONLY_EXTERNAL = {"components": ["orion", "iota"], "ports": {"orion": 11026, "iota": 14041}}


@pytest.mark.parametrize(
    ("wanted", "running", "recorded", "serving", "action"),
    [
        (ALL, False, None, False, "start"),
        (None, False, None, True, "none"),
        (ALL, True, ALL, True, "keep"),
        (ALL, True, None, True, "keep"),  # started by an older stack.py: it served all three
        (ALL, True, ALL, False, "restart"),  # a port does not answer
        (STH_ONLY_EXTERNAL, True, ALL, True, "restart"),  # it would hold the port meant for real STH
        (STH_ONLY_EXTERNAL, True, None, True, "restart"),
        (ALL, True, STH_ONLY_EXTERNAL, True, "restart"),
        (STH_ONLY_EXTERNAL, True, STH_ONLY_EXTERNAL, True, "keep"),
        (None, True, ALL, True, "stop"),
    ],
)
def test_what_up_does_with_the_sandbox(
    wanted: dict[str, Any] | None, running: bool, recorded: dict[str, Any] | None, serving: bool, action: str
) -> None:
    assert stack.sandbox_action(wanted, running=running, recorded=recorded, serving=serving) == action


# ------------------------------------------------------------------------------ probes and warnings


def test_only_external_components_are_probed_on_their_version_route() -> None:
    probed: list[str] = []

    def check(url: str) -> str | None:
        probed.append(url)
        return None

    warnings = stack.fiware_warnings(
        stack.Endpoints.from_env(env_with("orion", "sth", "iota")), check=check, port_open=lambda port: False
    )
    assert warnings == []
    assert sorted(probed) == sorted([f"{ORION}/version", f"{STH}/version", f"{IOTA}/iot/about"])
    probed.clear()
    assert stack.fiware_warnings(stack.Endpoints.from_env({}), check=check, port_open=lambda port: True) == []
    assert probed == []


def test_an_external_component_that_does_not_answer_is_a_clear_warning() -> None:
    warnings = stack.fiware_warnings(
        stack.Endpoints.from_env(env_with("iota")),
        check=lambda url: "timed out" if "iota" in url else None,
        port_open=lambda port: True,
    )
    assert len(warnings) == 1
    assert warnings[0].startswith("WARNING: the external IoT Agent at http://iota.example:4041")
    assert "CHRONOS_IOT_AGENT_URL" in warnings[0] and "GET /iot/about: timed out" in warnings[0]


def test_a_sandbox_component_nobody_serves_is_a_warning_naming_both_variables() -> None:
    warnings = stack.fiware_warnings(
        stack.Endpoints.from_env({}), check=lambda url: None, port_open=lambda port: port != 18666
    )
    assert len(warnings) == 1
    assert "STH-Comet on 127.0.0.1:18666" in warnings[0]
    assert "CHRONOS_SANDBOX_STH_PORT" in warnings[0] and "CHRONOS_STH_URL" in warnings[0]


def test_the_probe_reports_failures_instead_of_raising(monkeypatch: pytest.MonkeyPatch) -> None:
    timeouts: list[float] = []

    def refuse(request: urllib.request.Request, timeout: float) -> Any:
        timeouts.append(timeout)
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    assert "Connection refused" in str(stack.probe("http://127.0.0.1:1/version"))
    assert timeouts == [3.0]

    def hang(request: urllib.request.Request, timeout: float) -> Any:
        raise TimeoutError("timed out")

    monkeypatch.setattr(urllib.request, "urlopen", hang)
    assert stack.probe("http://127.0.0.1:1/version") == "no answer within 3 s"

    def not_found(request: urllib.request.Request, timeout: float) -> Any:
        raise urllib.error.HTTPError(request.full_url, 404, "Not Found", None, None)  # type: ignore[arg-type]

    monkeypatch.setattr(urllib.request, "urlopen", not_found)
    assert stack.probe("http://127.0.0.1:1/version") == "HTTP 404"


def test_the_probe_sends_the_fiware_token_when_one_is_set(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[urllib.request.Request] = []

    class Answer:
        def __enter__(self) -> Answer:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

    def answer(request: urllib.request.Request, timeout: float) -> Answer:
        sent.append(request)
        return Answer()

    monkeypatch.setattr(urllib.request, "urlopen", answer)
    monkeypatch.setenv("CHRONOS_FIWARE_AUTH_TOKEN", "secret-token")
    assert stack.probe("http://orion.example:1026/version") is None
    assert sent[0].get_header("X-auth-token") == "secret-token"


# ------------------------------------------------------------------------------ up, down, status


class FakeProcs:
    """``procs`` without processes: what was started and stopped, which ports answer."""

    def __init__(self, open_ports: set[int], running: int | None = None) -> None:
        self.open_ports = open_ports
        self.pid = running
        self.started: list[list[str]] = []
        self.stopped: list[Path] = []
        self.waited = 0

    def running(self, pid_file: Path) -> int | None:
        return self.pid if pid_file.name == "fiware-sandbox.pid" else None

    def port_open(self, host: str, port: int) -> bool:
        return port in self.open_ports

    def start(self, name: str, argv: list[str], **kwargs: Any) -> int:
        self.started.append(list(argv))
        ports = [int(argv[i + 1]) for i, arg in enumerate(argv) if arg.endswith("-port")]
        self.open_ports.update(ports)
        self.pid = 4242
        return 4242

    def stop(self, pid_file: Path, **kwargs: Any) -> bool:
        self.stopped.append(pid_file)
        if pid_file.name == "fiware-sandbox.pid" and self.pid:
            self.pid = None
            self.open_ports.clear()  # its ports are free again
            return True
        return False

    def wait_until(self, check: Any, *, timeout: float, what: str) -> None:
        self.waited += 1
        assert check(), f"{what} would never become ready"


@pytest.fixture
def local_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """stack.py's .local/ in a temporary directory, no FerretDB nor LocalStack started, no probe."""
    run = tmp_path / "run"
    run.mkdir()
    for name, value in {
        "STATE": tmp_path,
        "RUN": run,
        "LOGS": tmp_path / "logs",
        "STACK_FILE": tmp_path / "stack.json",
        "ENDPOINTS_FILE": tmp_path / "endpoints.json",
        "SANDBOX_PID_FILE": run / "fiware-sandbox.pid",
        "SANDBOX_CONFIG_FILE": run / "fiware-sandbox.json",
    }.items():
        monkeypatch.setattr(stack, name, value)
    monkeypatch.setattr(stack, "start_ferretdb", lambda endpoints: None)
    monkeypatch.setattr(stack, "start_localstack", lambda endpoints: None)
    monkeypatch.setattr(stack, "probe", lambda url, timeout=3.0: pytest.fail(f"unexpected probe of {url}"))
    for name in [n for n in os.environ if n.startswith(("CHRONOS_", "MONGODB_URI"))]:
        monkeypatch.delenv(name)
    yield tmp_path


def test_up_with_every_component_external_starts_no_sandbox_and_warns_about_a_silent_one(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeProcs(open_ports=set())
    monkeypatch.setattr(stack, "procs", fake)
    for name in ("orion", "sth", "iota"):
        monkeypatch.setenv(*GIVEN[name])
    probed: list[str] = []

    def probe(url: str, timeout: float = 3.0) -> str | None:
        probed.append(url)
        return "down" if "sth" in url else None

    monkeypatch.setattr(stack, "probe", probe)
    endpoints = stack.up()
    assert fake.started == [] and fake.waited == 0
    assert endpoints.external == ("orion", "sth", "iota")
    assert sorted(probed) == sorted([f"{ORION}/version", f"{STH}/version", f"{IOTA}/iot/about"])
    recorded = json.loads((local_state / "endpoints.json").read_text())
    assert (
        recorded["sth_url"] == STH
        and recorded["external"] == ["orion", "sth", "iota"]
        and recorded["sandbox"] == []
    )
    out, err = capsys.readouterr()
    assert "no FIWARE sandbox" in err
    assert (
        f"WARNING: the external STH-Comet at {STH} (CHRONOS_STH_URL) does not answer GET /version: down"
        in err
    )
    assert f"sth_url          {STH}  (external: CHRONOS_STH_URL)" in out


def test_up_with_sth_external_waits_only_for_the_ports_it_serves(
    local_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeProcs(open_ports={18666})  # a real STH there must not stop the sandbox from starting
    monkeypatch.setattr(stack, "procs", fake)
    monkeypatch.setenv("CHRONOS_STH_URL", "http://127.0.0.1:18666")
    monkeypatch.setattr(stack, "probe", lambda url, timeout=3.0: None)
    stack.up()
    [command] = fake.started
    assert "--components" in command and command[command.index("--components") + 1] == "orion,iota"
    assert "--sth-port" not in command
    assert fake.waited == 1
    assert json.loads((local_state / "run" / "fiware-sandbox.json").read_text()) == STH_ONLY_EXTERNAL


def test_up_restarts_a_sandbox_that_holds_the_port_of_a_now_external_component(
    local_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeProcs(open_ports={11026, 18666, 14041}, running=1234)
    (local_state / "run" / "fiware-sandbox.json").write_text(json.dumps(ALL))
    monkeypatch.setattr(stack, "procs", fake)
    monkeypatch.setenv("CHRONOS_STH_URL", "http://127.0.0.1:8666")
    monkeypatch.setattr(stack, "probe", lambda url, timeout=3.0: None)
    stack.up()
    assert fake.stopped == [local_state / "run" / "fiware-sandbox.pid"]
    assert len(fake.started) == 1 and "orion,iota" in fake.started[0]


def test_up_refuses_a_sandbox_port_taken_by_another_process(
    local_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "procs", FakeProcs(open_ports={14041}))
    with pytest.raises(SystemExit, match="CHRONOS_SANDBOX_IOTA_PORT=14041.*CHRONOS_IOT_AGENT_URL"):
        stack.up()


def test_down_stops_only_its_own_processes_never_an_external_component(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = stack.Endpoints.from_env(env_with("sth", "iota"))
    (local_state / "endpoints.json").write_text(json.dumps(endpoints.to_json()))
    (local_state / "run" / "fiware-sandbox.json").write_text(json.dumps({"components": ["orion"]}))
    fake = FakeProcs(open_ports=set(), running=4242)
    monkeypatch.setattr(stack, "procs", fake)
    localstack_stops: list[Path] = []

    def stop_localstack(state: Path) -> bool:
        localstack_stops.append(state)
        return True

    monkeypatch.setattr(stack, "localstack_ctl", SimpleNamespace(stop=stop_localstack))
    monkeypatch.setattr(
        socket, "create_connection", lambda *a, **k: pytest.fail("down must not reach FIWARE")
    )
    stack.down()
    assert fake.stopped == [local_state / "run" / "fiware-sandbox.pid", local_state / "run" / "ferretdb.pid"]
    assert localstack_stops == [stack.LOCALSTACK_STATE]
    assert not (local_state / "run" / "fiware-sandbox.json").exists()
    err = capsys.readouterr().err
    assert "stopped: localstack, fiware-sandbox" in err
    assert f"external, left running: STH-Comet {STH}, IoT Agent {IOTA}" in err


def test_status_marks_external_urls_and_needs_no_sandbox_when_all_are(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = stack.Endpoints.from_env(env_with("orion", "sth", "iota"))
    (local_state / "endpoints.json").write_text(json.dumps(endpoints.to_json()))
    fake = FakeProcs(open_ports=set())
    fake.running = lambda pid_file: 10 if pid_file.name == "ferretdb.pid" else None  # type: ignore[method-assign]
    monkeypatch.setattr(stack, "procs", fake)
    monkeypatch.setattr(stack, "localstack_ctl", SimpleNamespace(running_pid=lambda state: 11))
    assert stack.status() == 0
    out = capsys.readouterr().out
    assert "fiware-sandbox   not needed (every FIWARE component is external)" in out
    assert f"orion_url        {ORION}  (external: CHRONOS_ORION_URL)" in out
    assert '"external": [\n    "orion",\n    "sth",\n    "iota"\n  ]' in out


def test_status_shows_what_the_sandbox_serves_and_where_the_deployment_points(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoints = stack.Endpoints.from_env(env_with("sth"))
    (local_state / "endpoints.json").write_text(json.dumps(endpoints.to_json()))
    (local_state / "run" / "fiware-sandbox.json").write_text(json.dumps(STH_ONLY_EXTERNAL))
    (local_state / "stack.json").write_text(
        json.dumps(
            {
                "SthUrl": "http://127.0.0.1:18666",
                "OrionUrl": endpoints.orion_url,
                "IotAgentUrl": endpoints.iot_agent_url,
            }
        )
    )
    monkeypatch.setattr(stack, "procs", FakeProcs(open_ports=set(), running=77))
    monkeypatch.setattr(stack, "localstack_ctl", SimpleNamespace(running_pid=lambda state: None))
    assert stack.status() == 1  # FerretDB and LocalStack are stopped
    out = capsys.readouterr().out
    assert "fiware-sandbox   running pid 77 (serves orion, iota)" in out
    assert "the deployed stack points at: orion http://127.0.0.1:11026, sth http://127.0.0.1:18666" in out


# ------------------------------------------------------------------------------ the e2e tooling


def test_the_e2e_sandbox_control_needs_the_sandboxs_sth() -> None:
    with pytest.raises(SandboxUnavailableError, match=r"STH-Comet http://sth.example:8666 is external"):
        SandboxControl.for_stack({"SthUrl": STH, "FiwareExternal": ["sth"]})
    control = SandboxControl.for_stack({"SthUrl": "http://127.0.0.1:18666", "FiwareExternal": ["orion"]})
    assert control.external == {"orion"}
    assert (
        SandboxControl.for_stack({"SthUrl": "http://127.0.0.1:18666"}).external == set()
    )  # older stack.json
    with pytest.raises(pytest.skip.Exception, match="orion is external"):
        control.faults(orion_down=True)


# ------------------------------------------------------------------------------------- the dev IdP


def test_the_dev_idp_port_comes_from_the_environment() -> None:
    assert stack.dev_idp_url({}) == "http://127.0.0.1:19080"
    assert stack.dev_idp_url({"CHRONOS_DEV_IDP_PORT": "19555"}) == "http://127.0.0.1:19555"
    with pytest.raises(SystemExit, match="CHRONOS_DEV_IDP_PORT"):
        stack.dev_idp_url({"CHRONOS_DEV_IDP_PORT": "70000"})
    assert stack.dev_idp_command("http://127.0.0.1:19555")[-2:] == ["--port", "19555"]


def test_up_starts_the_dev_idp_and_lists_it_and_deploy_points_the_dashboard_at_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(stack, "ENDPOINTS_FILE", tmp_path / "endpoints.json")
    monkeypatch.setattr(stack, "JWT_SECRET_FILE", tmp_path / "jwt-secret")
    monkeypatch.setattr(stack, "DEV_IDP_PID_FILE", tmp_path / "dev-idp.pid")
    monkeypatch.setattr(stack.procs, "running", lambda pid_file: None)
    monkeypatch.setattr(stack.procs, "port_open", lambda host, port: bool(started))
    monkeypatch.setattr(stack.procs, "start", lambda name, command, **kw: started.append(command))
    monkeypatch.setattr(stack.procs, "wait_until", lambda check, **kw: check())
    monkeypatch.setenv("CHRONOS_DEV_IDP_PORT", "19555")
    (tmp_path / "endpoints.json").write_text(json.dumps({"mongodb_uri": "mongodb://x/"}))
    assert stack.start_dev_idp() == "http://127.0.0.1:19555"
    assert started and started[0][-2:] == ["--port", "19555"]
    assert (tmp_path / "jwt-secret").exists()  # the IdP signs with the deployment's secret
    recorded = json.loads((tmp_path / "endpoints.json").read_text())
    assert recorded == {"mongodb_uri": "mongodb://x/", "dev_idp_url": "http://127.0.0.1:19555"}
    params = stack.deploy_parameters(stack.Endpoints.from_env({}))
    assert params["OidcAuthority"] == "http://127.0.0.1:19555"
    assert stack.template_default("OidcClientId") == "chronos-dashboard"


# ------------------------------------------------------------------------------ FerretDB backend

START_FERRETDB = stack.start_ferretdb  # the real one (the local_state fixture replaces it)


class FerretProcs(FakeProcs):
    """A FakeProcs whose started FerretDB answers on its ``--listen-addr`` port."""

    def start(self, name: str, argv: list[str], **kwargs: Any) -> int:
        self.started.append(list(argv))
        listen = next(a for a in argv if a.startswith("--listen-addr="))
        self.open_ports.add(int(listen.rsplit(":", 1)[1]))
        return 4343


def test_ferretdb_runs_on_sqlite_in_the_data_directory_by_default(tmp_path: Path) -> None:
    argv = stack.ferretdb_command(tmp_path / "ferretdb", 27118, tmp_path / "data", None)
    assert argv[0] == str(tmp_path / "ferretdb")
    assert "--handler=sqlite" in argv and f"--sqlite-url=file:{tmp_path / 'data'}/" in argv
    assert "--listen-addr=127.0.0.1:27118" in argv
    assert not [a for a in argv if "postgresql" in a]


def test_ferretdb_runs_on_postgresql_when_a_url_is_given(tmp_path: Path) -> None:
    url = "postgres://ferretdb:secret@127.0.0.1:5432/ferretdb"
    argv = stack.ferretdb_command(tmp_path / "ferretdb", 27128, tmp_path / "data", url)
    assert "--handler=postgresql" in argv and f"--postgresql-url={url}" in argv
    assert f"--state-dir={tmp_path / 'data'}" in argv and "--listen-addr=127.0.0.1:27128" in argv
    assert not [a for a in argv if "sqlite" in a]


class FakeCluster:
    """local/postgresql.py's server commands, recorded instead of run."""

    def __init__(self, bindir: Path | None) -> None:
        self.bindir = bindir
        self.started: list[Any] = []
        self.stopped: list[Any] = []
        self.pid: int | None = None

    def find_bindir(self, env: Any) -> Path | None:
        return self.bindir

    def start(self, cluster: Any) -> None:
        self.started.append(cluster)
        self.pid = 5151

    def stop(self, cluster: Any) -> bool:
        self.stopped.append(cluster)
        return self.pid is not None

    def running_pid(self, cluster: Any) -> int | None:
        return self.pid

    def __getattr__(self, name: str) -> Any:
        return getattr(postgresql, name)


@pytest.fixture
def cluster(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeCluster:
    fake = FakeCluster(tmp_path / "pgbin")
    monkeypatch.setattr(stack, "postgresql", fake)
    return fake


def start_ferretdb_argv(local_state: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    (local_state / "bin").mkdir(exist_ok=True)
    (local_state / "bin" / "ferretdb").write_text("")
    fake = FerretProcs(open_ports=set())
    monkeypatch.setattr(stack, "procs", fake)
    START_FERRETDB(stack.Endpoints.from_env({}))
    [argv] = fake.started
    assert "--listen-addr=127.0.0.1:27118" in argv
    return argv


def test_up_runs_ferretdb_on_the_stacks_own_postgresql_cluster_by_default(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster
) -> None:
    argv = start_ferretdb_argv(local_state, monkeypatch)
    [started] = cluster.started
    assert started.port == 25432 and started.bindir == cluster.bindir
    assert "--handler=postgresql" in argv
    assert "--postgresql-url=postgres://postgres@127.0.0.1:25432/ferretdb" in argv
    assert (local_state / "run" / "ferretdb-backend").read_text() == "postgresql"


def test_the_clusters_port_comes_from_the_environment(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster
) -> None:
    monkeypatch.setenv("CHRONOS_POSTGRESQL_PORT", "25999")
    argv = start_ferretdb_argv(local_state, monkeypatch)
    assert "--postgresql-url=postgres://postgres@127.0.0.1:25999/ferretdb" in argv


def test_without_postgresql_binaries_ferretdb_falls_back_to_sqlite_with_a_warning(
    local_state: Path,
    monkeypatch: pytest.MonkeyPatch,
    cluster: FakeCluster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster.bindir = None
    argv = start_ferretdb_argv(local_state, monkeypatch)
    assert "--handler=sqlite" in argv and cluster.started == []
    assert "apt-get install postgresql" in capsys.readouterr().err
    assert (local_state / "run" / "ferretdb-backend").read_text() == "sqlite"


@pytest.mark.parametrize("value", ["sqlite", "SQLite "])
def test_the_sqlite_backend_can_be_chosen(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster, value: str
) -> None:
    monkeypatch.setenv("CHRONOS_FERRETDB_BACKEND", value)
    argv = start_ferretdb_argv(local_state, monkeypatch)
    assert "--handler=sqlite" in argv and cluster.started == []


def test_an_unknown_backend_is_refused_naming_its_variable(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster
) -> None:
    monkeypatch.setenv("CHRONOS_FERRETDB_BACKEND", "oracle")
    with pytest.raises(SystemExit, match="CHRONOS_FERRETDB_BACKEND"):
        start_ferretdb_argv(local_state, monkeypatch)


def test_a_postgresql_database_of_your_own_starts_no_cluster(
    local_state: Path, monkeypatch: pytest.MonkeyPatch, cluster: FakeCluster
) -> None:
    monkeypatch.setenv("CHRONOS_FERRETDB_POSTGRESQL_URL", " postgres://u:p@db:5432/f ")
    argv = start_ferretdb_argv(local_state, monkeypatch)
    assert "--postgresql-url=postgres://u:p@db:5432/f" in argv and cluster.started == []


def test_down_stops_the_cluster_after_ferretdb(
    local_state: Path,
    monkeypatch: pytest.MonkeyPatch,
    cluster: FakeCluster,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster.pid = 5151
    order: list[str] = []
    fake = FakeProcs(open_ports=set(), running=4242)
    stop_process = fake.stop
    monkeypatch.setattr(fake, "stop", lambda pid_file: order.append(pid_file.name) or stop_process(pid_file))
    stop_cluster = cluster.stop
    monkeypatch.setattr(cluster, "stop", lambda c: order.append("cluster") or stop_cluster(c))
    monkeypatch.setattr(stack, "procs", fake)
    monkeypatch.setattr(stack, "localstack_ctl", SimpleNamespace(stop=lambda state: False))
    stack.down()
    assert order == ["fiware-sandbox.pid", "ferretdb.pid", "cluster"]
    assert capsys.readouterr().err.rstrip().endswith(", postgresql")


def test_up_starts_no_ferretdb_when_mongodb_uri_names_a_server(
    local_state: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MONGODB_URI", "mongodb://db.example:27017/")
    monkeypatch.setenv("CHRONOS_FERRETDB_POSTGRESQL_URL", "postgres://u:p@db:5432/f")
    fake = FerretProcs(open_ports=set())
    monkeypatch.setattr(stack, "procs", fake)
    START_FERRETDB(stack.Endpoints.from_env({"MONGODB_URI": "mongodb://db.example:27017/"}))
    assert fake.started == []
