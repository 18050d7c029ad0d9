"""The ``chronos`` root command: global options, the command groups, the exit codes."""

from __future__ import annotations

from typing import Annotated

import typer

from chronos_cli import __version__
from chronos_cli.commands import register_all
from chronos_cli.context import OutputOption, ProfileOption, QuietOption, State, VerboseOption

EPILOG = (
    "Exit codes: 0 success, 1 error, 2 usage, 3 invalid input (422), 4 authentication (401, no "
    "credentials), 5 permission (403), 6 not found (404), 7 conflict (409), 8 unavailable (503, "
    "connection), 9 FIWARE failed (502), 10 training failed, 11 training cancelled, 130 interrupted."
)

app = typer.Typer(
    name="chronos",
    help="Chronos from the terminal: devices, models, training, forecasts.",
    epilog=EPILOG,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"chronos {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    output: OutputOption = None,
    quiet: QuietOption = False,
    verbose: VerboseOption = False,
    profile: ProfileOption = None,
    api_url: Annotated[
        str | None,
        typer.Option("--api-url", envvar="CHRONOS_API_URL", help="API base URL (overrides the profile)."),
    ] = None,
    version: Annotated[  # noqa: ARG001 (handled by its eager callback)
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Chronos from the terminal: devices, models, training, forecasts.

    Settings come from a profile of the config file (`chronos config --help`); the token from
    CHRONOS_TOKEN, the profile's token_file, or `chronos login`.
    """
    st = ctx.obj if isinstance(ctx.obj, State) else State()
    ctx.obj = st
    st.merge(output=output.value if output else None, quiet=quiet, verbose=verbose, profile=profile)
    if api_url:
        st.api_url = api_url


register_all(app)


def main() -> None:
    app()
