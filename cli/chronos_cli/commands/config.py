"""``chronos config``: profiles in the config file."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from chronos_cli import config as settings
from chronos_cli.context import command, state
from chronos_cli.output import Table

app = typer.Typer(help="Profiles: API URL, tenant, output format, login provider.", no_args_is_help=True)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")


@app.command("show")
@command
def show() -> None:
    """The effective settings of the profile (file, environment and defaults merged)."""
    st = state()
    profile = st.profile
    values = asdict(profile)
    st.out.result(
        {"config_file": str(settings.config_path()), **values},
        Table(["setting", "value"], [[k, v] for k, v in values.items()], title=f"Profile {profile.name}"),
    )
    st.out.info(f"config file: {settings.config_path()}")


@app.command("set")
@command
def set_(
    key: Annotated[str, typer.Argument(help=f"One of: {', '.join(settings.SETTINGS)}.")],
    value: Annotated[str, typer.Argument(help="The value.")],
) -> None:
    """Store a setting in the profile (creating the profile and the file when needed)."""
    st = state()
    path = settings.set_setting(st.profile_name, key, value)
    st.out.result({"profile": settings.profile_name(st.profile_name, settings.read_config()), key: value})
    st.out.info(f"saved in {path}")


@app.command("unset")
@command
def unset(key: Annotated[str, typer.Argument(help="The setting to remove from the profile.")]) -> None:
    """Remove a setting from the profile (its default applies again)."""
    st = state()
    path = settings.unset_setting(st.profile_name, key)
    st.out.result({"profile": settings.profile_name(st.profile_name, settings.read_config()), "unset": key})
    st.out.info(f"saved in {path}")


@app.command("use")
@command
def use(name: Annotated[str, typer.Argument(help="The profile to make the default.")]) -> None:
    """Make a profile the default one."""
    st = state()
    settings.use_profile(name)
    st.out.result({"default_profile": name})


@app.command("profiles")
@command
def profiles() -> None:
    """The profiles in the config file."""
    st = state()
    data = settings.read_config()
    default = settings.profile_name(None, data)
    stored = data.get("profiles") or {}
    rows = [
        [name, name == default, values.get("api_url"), values.get("tenant")]
        for name, values in stored.items()
    ]
    st.out.result(
        {"default_profile": default, "profiles": stored},
        Table(["profile", "default", "api_url", "tenant"], rows),
    )


@app.command("settings")
@command
def describe() -> None:
    """Every setting a profile can hold, with its meaning."""
    st = state()
    st.out.result(
        dict(settings.SETTINGS), Table(["setting", "meaning"], [list(i) for i in settings.SETTINGS.items()])
    )
