"""Profiles: named sets of settings in a TOML file in the user's config directory.

The file is ``$CHRONOS_CONFIG`` when set, else ``config.toml`` in the platform's user config
directory for ``chronos`` (``~/.config/chronos`` on Linux)::

    default_profile = "local"

    [profiles.local]
    api_url = "http://127.0.0.1:4610/_aws/execute-api/abc123/dev"
    tenant = "energy"          # FIWARE service used when a command needs one
    servicepath = "/"
    output = "table"           # table | json | csv

    [profiles.prod]
    api_url = "https://api.example.com/prod"
    issuer = "https://login.example.com/realms/chronos"   # OIDC provider for `chronos login`
    client_id = "chronos-cli"

    [profiles.local]                # the local stack's development provider (local/dev_idp.py)
    authority = "http://127.0.0.1:19080"   # where its discovery document is
    issuer = "chronos-local"               # the `iss` it issues (the stack's AuthIssuer)

A setting comes from, in order: the command line, the environment (``CHRONOS_API_URL``,
``CHRONOS_TENANT``, ``CHRONOS_SERVICEPATH``, ``CHRONOS_OUTPUT``, ``CHRONOS_TOKEN_FILE``,
``CHRONOS_ISSUER``, ``CHRONOS_AUTHORITY``), the
profile, the built-in default. The profile is ``--profile``, else ``$CHRONOS_PROFILE``, else
``default_profile``, else ``default``. Tokens stored by ``chronos login`` live beside the file,
in ``tokens/<profile>.json`` (mode 0600).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from chronos_cli.errors import UsageError

APP_NAME = "chronos"
OUTPUT_FORMATS = ("table", "json", "csv")
TOKEN_USES = ("access", "id")


@dataclass(frozen=True, kw_only=True)
class Profile:
    """The effective settings of one profile (file, environment and defaults merged)."""

    name: str = "default"
    api_url: str | None = None
    tenant: str | None = None
    servicepath: str = "/"
    output: str = "table"
    token_file: str | None = None
    issuer: str | None = None
    authority: str | None = None
    client_id: str = "chronos-cli"
    scopes: str = "openid offline_access"
    audience: str | None = None
    token_use: str = "access"
    roles_claim: str = "chronos:roles"
    tenants_claim: str = "chronos:tenants"
    timeout_seconds: float = 60.0
    retries: int = 4

    @property
    def provider_url(self) -> str | None:
        """Where the OIDC discovery document is (``<url>/.well-known/openid-configuration``):
        ``authority`` when set, else ``issuer`` (OpenID Connect Discovery 1.0 §4: a provider's
        issuer is its URL)."""
        return (self.authority or self.issuer or "").rstrip("/") or None

    @property
    def expected_issuer(self) -> str | None:
        """The issuer the provider must name in its discovery document and its ID tokens:
        ``issuer`` when set, else ``authority``."""
        return (self.issuer or self.authority or "").rstrip("/") or None


SETTINGS: dict[str, str] = {
    "api_url": "Base URL of the API stage (…/<stage>), without a trailing slash",
    "tenant": "FIWARE service used by devices list and models create",
    "servicepath": "FIWARE service path used with the tenant",
    "output": "Default output format: table, json or csv",
    "token_file": "File holding a bearer token (its first line)",
    "issuer": "OIDC issuer for `chronos login`: the `iss` the provider names (discovery at"
    " <issuer>/.well-known/openid-configuration unless `authority` is set)",
    "authority": "URL of the OIDC provider when it is not the issuer (the local dev IdP, whose"
    " issuer is the stack's AuthIssuer); discovery at <authority>/.well-known/openid-configuration",
    "client_id": "OIDC public client id for `chronos login`",
    "scopes": "OIDC scopes asked for by `chronos login`",
    "audience": "Optional `audience` parameter some providers need on the authorization request",
    "token_use": "Which token of a login to send: access (default) or id (Cognito ID tokens)",
    "roles_claim": "Claim listing roles, as the API is configured (CHRONOS_AUTH_ROLES_CLAIM)",
    "tenants_claim": "Claim listing FIWARE services (CHRONOS_AUTH_TENANTS_CLAIM)",
    "timeout_seconds": "HTTP timeout per request",
    "retries": "Attempts for reads on 503 and connection errors",
}

ENVIRONMENT: dict[str, str] = {
    "api_url": "CHRONOS_API_URL",
    "tenant": "CHRONOS_TENANT",
    "servicepath": "CHRONOS_SERVICEPATH",
    "output": "CHRONOS_OUTPUT",
    "token_file": "CHRONOS_TOKEN_FILE",
    "issuer": "CHRONOS_ISSUER",
    "authority": "CHRONOS_AUTHORITY",
}


def config_path() -> Path:
    """The config file: ``$CHRONOS_CONFIG`` or ``config.toml`` in the user config directory."""
    override = os.environ.get("CHRONOS_CONFIG")
    if override:
        return Path(override).expanduser()
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def config_dir() -> Path:
    """Where the config file and the stored tokens live."""
    return config_path().parent


def read_config(path: Path | None = None) -> dict[str, Any]:
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"The config file {path} is not valid TOML: {exc}") from None


def write_config(data: dict[str, Any], path: Path | None = None) -> Path:
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(tomli_w.dumps(data), encoding="utf-8")
    tmp.replace(path)
    return path


def profile_name(requested: str | None, data: dict[str, Any]) -> str:
    return requested or os.environ.get("CHRONOS_PROFILE") or str(data.get("default_profile") or "default")


def _coerce(key: str, value: Any) -> Any:
    if key == "timeout_seconds":
        return float(value)
    if key == "retries":
        return int(value)
    value = str(value)
    if key == "output" and value not in OUTPUT_FORMATS:
        raise UsageError(f"output must be one of {', '.join(OUTPUT_FORMATS)}, not {value!r}")
    if key == "token_use" and value not in TOKEN_USES:
        raise UsageError(f"token_use must be one of {', '.join(TOKEN_USES)}, not {value!r}")
    if key == "api_url":
        value = value.rstrip("/")
    return value


def load_profile(requested: str | None = None, path: Path | None = None) -> Profile:
    """The effective profile; a ``--profile`` naming a profile absent from the file is an error."""
    data = read_config(path)
    name = profile_name(requested, data)
    profiles: dict[str, Any] = data.get("profiles") or {}
    stored = profiles.get(name)
    if stored is None and requested is not None and profiles:
        raise UsageError(
            f"No profile {name!r} in {path or config_path()}",
            hints=[f"Known profiles: {', '.join(sorted(profiles))}"],
        )
    values: dict[str, Any] = {}
    known = {f.name for f in fields(Profile)} - {"name"}
    for key, value in (stored or {}).items():
        if key not in known:
            raise UsageError(f"Unknown setting {key!r} in profile {name!r} of {path or config_path()}")
        values[key] = _coerce(key, value)
    for key, variable in ENVIRONMENT.items():
        if os.environ.get(variable):
            values[key] = _coerce(key, os.environ[variable])
    return replace(Profile(name=name), **values)


def set_setting(profile: str | None, key: str, value: str, path: Path | None = None) -> Path:
    """Store one setting in a profile (created if absent); the first profile becomes the default."""
    if key not in SETTINGS:
        raise UsageError(f"Unknown setting {key!r}", hints=[f"Settings: {', '.join(SETTINGS)}"])
    data = read_config(path)
    name = profile_name(profile, data)
    profiles = data.setdefault("profiles", {})
    profiles.setdefault(name, {})[key] = _coerce(key, value)
    data.setdefault("default_profile", name)
    return write_config(data, path)


def unset_setting(profile: str | None, key: str, path: Path | None = None) -> Path:
    data = read_config(path)
    name = profile_name(profile, data)
    (data.get("profiles") or {}).get(name, {}).pop(key, None)
    return write_config(data, path)


def use_profile(name: str, path: Path | None = None) -> Path:
    data = read_config(path)
    if name not in (data.get("profiles") or {}):
        raise UsageError(f"No profile {name!r} in {path or config_path()}")
    data["default_profile"] = name
    return write_config(data, path)
