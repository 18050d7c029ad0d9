"""The state every command shares: the profile, the output and the API client.

Global options (``--profile``, ``--output``, ``--quiet``, ``--verbose``, ``--api-url``) are
accepted both before the command (``chronos -o json models list``) and after it
(``chronos models list -o json``): :func:`command` adds them to each command's signature.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Annotated, Any, TypeVar, cast

import httpx
import typer

from chronos_cli.client import ApiClient
from chronos_cli.config import Profile, load_profile
from chronos_cli.credentials import Identity, resolve_token
from chronos_cli.errors import CliError, ExitCode, UsageError
from chronos_cli.output import Output


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


@dataclass
class State:
    """Options given so far, and what is built from them on first use."""

    profile_name: str | None = None
    output: str | None = None
    quiet: bool = False
    verbose: bool = False
    api_url: str | None = None
    transport: httpx.BaseTransport | None = None  # tests inject a mock transport
    sleep: Callable[[float], None] = time.sleep  # and a sleep that does not wait
    _profile: Profile | None = field(default=None, repr=False)
    _out: Output | None = field(default=None, repr=False)
    _client: ApiClient | None = field(default=None, repr=False)
    _token: str | None = field(default=None, repr=False)

    @property
    def profile(self) -> Profile:
        if self._profile is None:
            profile = load_profile(self.profile_name)
            if self.api_url:
                profile = replace(profile, api_url=self.api_url.rstrip("/"))
            self._profile = profile
        return self._profile

    @property
    def out(self) -> Output:
        if self._out is None:
            fmt = self.output
            if fmt is None:
                try:
                    fmt = self.profile.output
                except UsageError:
                    fmt = "table"
            self._out = Output(fmt, quiet=self.quiet, verbose=self.verbose)
        return self._out

    def token(self) -> str:
        if self._token is None:
            from chronos_cli import oidc

            self._token = resolve_token(self.profile, lambda p, t: oidc.refresh(p, t, self.transport))
        return self._token

    def identity(self) -> Identity:
        return Identity.of(self.token(), self.profile)

    def _hint_403(self) -> list[str]:
        try:
            who = self.identity()
        except Exception:  # noqa: BLE001 (a hint must never hide the real error)
            return []
        return [
            f"Your token ({who.subject or 'no subject'}) has roles: {', '.join(who.roles) or 'none'}; "
            f"tenants: {', '.join(who.tenants) or 'none'}",
            "Roles: reader reads; operator also trains, predicts and toggles forecasts; admin also "
            "creates, changes and deletes models",
        ]

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            profile = self.profile
            if not profile.api_url:
                raise UsageError(
                    "No API URL configured",
                    hints=["Set CHRONOS_API_URL, pass --api-url, or run `chronos config set api_url <url>`"],
                )
            self._client = ApiClient(
                profile.api_url,
                self.token,
                timeout=profile.timeout_seconds,
                retries=profile.retries,
                transport=self.transport,
                sleep=self.sleep,
                log=self.out.debug,
                hint_403=self._hint_403,
            )
        return self._client

    def merge(self, *, output: str | None, quiet: bool, verbose: bool, profile: str | None) -> None:
        if output is not None:
            self.output = output
        self.quiet = self.quiet or quiet
        self.verbose = self.verbose or verbose
        if profile is not None:
            self.profile_name = profile
        self._out = None
        self._profile = None if profile is not None else self._profile


_CONTEXT: contextvars.ContextVar[typer.Context] = contextvars.ContextVar("chronos_cli_context")


def current_context() -> typer.Context:
    """The Typer context of the command running now (set by :func:`command`)."""
    return _CONTEXT.get()


def state() -> State:
    """The current invocation's state (created by the root callback)."""
    ctx = current_context()
    found = ctx.find_object(State)
    if found is None:
        found = State()
        ctx.obj = found
    return found


def explicit(name: str) -> bool:
    """Whether the command's option ``name`` was given (command line or environment), not defaulted."""
    source = current_context().get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


OutputOption = Annotated[
    OutputFormat | None,
    typer.Option(
        "--output", "-o", help="Output format (default: the profile's, else table).", show_default=False
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Only results and errors; no messages or progress.")
]
VerboseOption = Annotated[
    bool, typer.Option("--verbose", "-v", help="Show each HTTP request and retry on stderr.")
]
ProfileOption = Annotated[
    str | None, typer.Option("--profile", "-p", help="Profile of the config file to use.")
]

_CONTEXT_PARAM = "chronos_context"
_COMMON = (
    inspect.Parameter(_CONTEXT_PARAM, inspect.Parameter.KEYWORD_ONLY, annotation=typer.Context),
    inspect.Parameter("output", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=OutputOption),
    inspect.Parameter("quiet", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=QuietOption),
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation=VerboseOption),
    inspect.Parameter("profile", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=ProfileOption),
)

F = TypeVar("F", bound=Callable[..., Any])


def command(func: F) -> F:
    """Give a command the global options ``-o/-q/-v/-p`` (merged into :func:`state`)."""
    signature = inspect.signature(func, eval_str=True)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _CONTEXT.set(kwargs.pop(_CONTEXT_PARAM))
        output = kwargs.pop("output", None)
        state().merge(
            output=output.value if isinstance(output, OutputFormat) else output,
            quiet=bool(kwargs.pop("quiet", False)),
            verbose=bool(kwargs.pop("verbose", False)),
            profile=kwargs.pop("profile", None),
        )
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            state().out.error(exc)
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            state().out.info("Interrupted")
            raise typer.Exit(int(ExitCode.INTERRUPTED)) from None

    params = [p for p in signature.parameters.values() if p.name not in {c.name for c in _COMMON}]
    wrapper.__signature__ = signature.replace(parameters=[*params, *_COMMON])  # type: ignore[attr-defined]
    return cast(F, wrapper)
