"""Bearer-token verification with PyJWT: HS256 (shared secret) or RS256/ES256 (JWKS)."""

from __future__ import annotations

from typing import Any

import jwt
from jwt import PyJWKClient

from chronos_core.domain.auth import Principal, roles_from_claim, tenants_from_claim
from chronos_core.domain.errors import AuthenticationError


class JwtVerifier:
    """Verifies signature, issuer, audience, expiry and not-before, then builds a Principal.

    Exactly one of ``secret`` (HS256) or ``jwks_url`` (RS256/ES256, keys cached) is given.
    Every failure raises :class:`AuthenticationError` with the same generic message.
    """

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        roles_claim: str,
        tenants_claim: str,
        secret: str | None = None,
        jwks_url: str | None = None,
        leeway_seconds: int = 30,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("configure exactly one of a JWT secret or a JWKS URL")
        self._issuer = issuer
        self._audience = audience
        self._roles_claim = roles_claim
        self._tenants_claim = tenants_claim
        self._secret = secret
        self._jwks = PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5) if jwks_url else None
        self._leeway = leeway_seconds

    def verify(self, token: str) -> Principal:
        try:
            if self._jwks is not None:
                key: Any = self._jwks.get_signing_key_from_jwt(token).key
                algorithms = ["RS256", "ES256"]
            else:
                key = self._secret
                algorithms = ["HS256"]
            claims = jwt.decode(
                token,
                key=key,
                algorithms=algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "sub"], "verify_nbf": True},
            )
        except (jwt.PyJWTError, ValueError) as exc:
            raise AuthenticationError("Invalid or expired credentials") from exc
        return Principal(
            subject=str(claims["sub"]),
            roles=roles_from_claim(claims.get(self._roles_claim)),
            tenants=tenants_from_claim(claims.get(self._tenants_claim)),
        )


def mint_token(
    *,
    secret: str,
    subject: str,
    roles: list[str],
    tenants: list[str],
    issuer: str,
    audience: str,
    ttl_seconds: int = 3600,
    roles_claim: str = "chronos:roles",
    tenants_claim: str = "chronos:tenants",
    now: int | None = None,
) -> str:
    """An HS256 development token. Never used by the service itself, only by tools and tests."""
    import time

    issued = int(time.time()) if now is None else now
    claims = {
        "sub": subject,
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl_seconds,
        roles_claim: roles,
        tenants_claim: tenants,
    }
    return jwt.encode(claims, secret, algorithm="HS256")
