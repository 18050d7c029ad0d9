"""``chronos login``, ``logout`` and ``whoami``."""

from __future__ import annotations

import os
import time
import webbrowser
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from chronos_cli import oidc
from chronos_cli.context import command, state
from chronos_cli.credentials import Identity, delete_tokens, save_tokens
from chronos_cli.output import Table


def register(root: typer.Typer) -> None:
    root.command("login")(login)
    root.command("logout")(logout)
    root.command("whoami")(whoami)


@command
def login(
    issuer: Annotated[str | None, typer.Option(help="OIDC issuer (default: the profile's `issuer`).")] = None,
    authority: Annotated[
        str | None,
        typer.Option(
            help="Provider URL when it is not the issuer, as for the local dev IdP (default: the"
            " profile's `authority`, else the issuer)."
        ),
    ] = None,
    client_id: Annotated[
        str | None, typer.Option(help="Public client id (default: the profile's, chronos-cli).")
    ] = None,
    port: Annotated[int, typer.Option(help="Loopback port for the redirect; 0 picks a free one.")] = 0,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Print the URL instead of opening a browser.")
    ] = False,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the login to complete.")] = 300.0,
) -> None:
    """Log in with the OIDC authorization code flow and PKCE (loopback redirect, RFC 8252).

    Opens the provider's login page; after you sign in, the provider redirects to
    http://127.0.0.1:<port>/callback, and the tokens are stored for the profile (mode 0600).
    With --no-browser the URL is printed (stderr) for a browser on this machine to open.
    Local stack: --authority http://127.0.0.1:19080 --issuer chronos-local.
    """
    st = state()
    profile = st.profile
    if issuer:
        profile = replace(profile, issuer=issuer)
    if authority:
        profile = replace(profile, authority=authority)
    if client_id:
        profile = replace(profile, client_id=client_id)

    def announce(url: str) -> None:
        st.out.info("Open this URL to log in (a browser opens unless --no-browser):")
        st.out.err.print(url, markup=False, highlight=False, soft_wrap=True)

    tokens = oidc.login(
        profile,
        port=port,
        timeout=timeout,
        open_browser=(lambda _url: None) if no_browser else webbrowser.open,
        announce=announce,
        transport=st.transport,
    )
    path = save_tokens(profile, tokens)
    who = Identity.of(str(tokens.get("id_token" if profile.token_use == "id" else "access_token")), profile)
    st.out.result(
        {
            "profile": profile.name,
            "subject": who.subject,
            "roles": who.roles,
            "tenants": who.tenants,
            "stored": str(path),
        },
    )
    st.out.info(f"Logged in; tokens stored in {path}")


@command
def logout() -> None:
    """Forget the tokens `chronos login` stored for the profile."""
    st = state()
    removed = delete_tokens(st.profile)
    st.out.result({"profile": st.profile.name, "removed": removed})


def _source() -> str:
    st = state()
    if os.environ.get("CHRONOS_TOKEN", "").strip():
        return "CHRONOS_TOKEN"
    if st.profile.token_file:
        return f"token file {st.profile.token_file}"
    return "chronos login"


@command
def whoami() -> None:
    """Who the token says you are (subject, roles, tenants), checked against the API (GET /info)."""
    st = state()
    who = st.identity()
    info = st.client.get("/info")
    expires = (
        datetime.fromtimestamp(who.expires_at, UTC).isoformat().replace("+00:00", "Z")
        if who.expires_at
        else None
    )
    left = f" (in {max(0, who.expires_at - int(time.time())) // 60} min)" if who.expires_at else ""
    data = {
        "subject": who.subject,
        "roles": who.roles,
        "tenants": who.tenants,
        "issuer": who.issuer,
        "audience": who.audience,
        "expires_at": expires,
        "credentials": _source(),
        "api": {
            "url": st.client.base_url,
            "version": info.get("version"),
            "environment": info.get("environment"),
        },
    }
    rows: list[list[Any]] = [
        ["subject", who.subject],
        ["roles", who.roles or "none"],
        ["tenants", who.tenants or "none"],
        ["issuer", who.issuer],
        ["audience", who.audience],
        ["expires", f"{expires}{left}" if expires else None],
        ["credentials", data["credentials"]],
        [
            "api",
            f"{st.client.base_url}: Chronos {info.get('version')} ({info.get('environment')}), accepted",
        ],
    ]
    st.out.result(data, Table(["field", "value"], rows))
