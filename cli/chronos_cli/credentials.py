"""Where the bearer token comes from, and what it says about its holder.

Order: ``$CHRONOS_TOKEN``; the profile's ``token_file`` (or ``$CHRONOS_TOKEN_FILE``); the tokens
``chronos login`` stored for the profile, refreshed through the provider's token endpoint when
expired and a refresh token exists. Stored tokens are ``<config dir>/tokens/<profile>.json``,
written with mode 0600 in a 0700 directory.

Claims are decoded **without** verifying the signature: the CLI only shows them (``whoami``,
hints on a 403); the API is what verifies the token.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chronos_cli.config import Profile, config_dir
from chronos_cli.errors import AuthenticationRequired

#: Seconds before ``exp`` at which a stored token counts as expired (clock skew, request time).
EXPIRY_LEEWAY_SECONDS = 30


def decode_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, unverified; ``{}`` for an opaque or malformed token."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload.encode("ascii")))
    except (ValueError, UnicodeError):
        return {}
    return claims if isinstance(claims, dict) else {}


def names_in_claim(value: object) -> list[str]:
    """Names in a claim as the API reads them: a list, or a space/comma separated string."""
    if isinstance(value, str):
        return [p for p in value.replace(",", " ").split() if p]
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str) and v]
    return []


@dataclass(frozen=True)
class Identity:
    """What a token says about its holder, under the claim names the API is configured with."""

    subject: str | None
    roles: list[str]
    tenants: list[str]
    issuer: str | None
    audience: list[str]
    expires_at: int | None

    @classmethod
    def of(cls, token: str, profile: Profile) -> Identity:
        claims = decode_claims(token)
        aud = claims.get("aud")
        exp = claims.get("exp")
        return cls(
            subject=str(claims["sub"]) if "sub" in claims else None,
            roles=names_in_claim(claims.get(profile.roles_claim)),
            tenants=[t.lower() for t in names_in_claim(claims.get(profile.tenants_claim))],
            issuer=str(claims["iss"]) if "iss" in claims else None,
            audience=names_in_claim(aud) if isinstance(aud, list) else ([str(aud)] if aud else []),
            expires_at=int(exp) if isinstance(exp, int | float) else None,
        )


def token_path(profile: Profile) -> Path:
    return config_dir() / "tokens" / f"{profile.name}.json"


def save_tokens(profile: Profile, tokens: dict[str, Any]) -> Path:
    """Store a login's tokens for the profile, readable by the user only (0600)."""
    path = token_path(profile)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    record = dict(tokens)
    if "expires_at" not in record and isinstance(record.get("expires_in"), int | float):
        record["expires_at"] = int(time.time() + float(record["expires_in"]))
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def load_tokens(profile: Profile) -> dict[str, Any] | None:
    path = token_path(profile)
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def delete_tokens(profile: Profile) -> bool:
    path = token_path(profile)
    if path.exists():
        path.unlink()
        return True
    return False


def bearer_of(tokens: dict[str, Any], profile: Profile) -> str | None:
    """The token to send: the access token, or the ID token with ``token_use = "id"``."""
    key = "id_token" if profile.token_use == "id" else "access_token"
    value = tokens.get(key)
    return str(value) if value else None


def is_expired(tokens: dict[str, Any], now: float | None = None) -> bool:
    now = time.time() if now is None else now
    expires_at = tokens.get("expires_at")
    if not isinstance(expires_at, int | float):
        return False
    return now >= float(expires_at) - EXPIRY_LEEWAY_SECONDS


Refresher = Callable[[Profile, dict[str, Any]], dict[str, Any]]


def resolve_token(profile: Profile, refresh: Refresher | None = None) -> str:
    """The bearer token for ``profile``, or :class:`AuthenticationRequired` saying how to get one.

    ``refresh(profile, tokens)`` exchanges a stored refresh token for new tokens (see
    :func:`chronos_cli.oidc.refresh`); the new tokens are stored.
    """
    from_env = os.environ.get("CHRONOS_TOKEN", "").strip()
    if from_env:
        return from_env
    if profile.token_file:
        path = Path(profile.token_file).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").strip().splitlines()
        except OSError as exc:
            raise AuthenticationRequired(f"Cannot read the token file {path}: {exc.strerror}") from None
        if not lines or not lines[0].strip():
            raise AuthenticationRequired(f"The token file {path} is empty")
        return lines[0].strip()
    tokens = load_tokens(profile)
    if tokens is None:
        raise AuthenticationRequired(
            f"No credentials for profile {profile.name!r}",
            hints=["Run `chronos login`, set CHRONOS_TOKEN, or set a token_file in the profile"],
        )
    if is_expired(tokens):
        if not tokens.get("refresh_token") or refresh is None:
            raise AuthenticationRequired(
                f"The stored token of profile {profile.name!r} has expired",
                hints=["Run `chronos login` again"],
            )
        tokens = refresh(profile, tokens)
        save_tokens(profile, tokens)
    token = bearer_of(tokens, profile)
    if not token:
        raise AuthenticationRequired(
            f"The stored login of profile {profile.name!r} has no {profile.token_use} token",
            hints=["Run `chronos login` again, or set token_use in the profile"],
        )
    return token
