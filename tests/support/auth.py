"""Development tokens for tests (HS256 with a test-only secret)."""

from __future__ import annotations

from chronos_core.adapters.jwt_verifier import JwtVerifier, mint_token

TEST_SECRET = "test-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
ISSUER = "chronos-local"
AUDIENCE = "chronos"


def token(roles: list[str] | None = None, tenants: list[str] | None = None, **kwargs: object) -> str:
    return mint_token(
        secret=str(kwargs.pop("secret", TEST_SECRET)),
        subject=str(kwargs.pop("subject", "tester")),
        roles=roles if roles is not None else ["admin"],
        tenants=tenants if tenants is not None else ["*"],
        issuer=str(kwargs.pop("issuer", ISSUER)),
        audience=str(kwargs.pop("audience", AUDIENCE)),
        **kwargs,  # type: ignore[arg-type]
    )


def bearer(
    roles: list[str] | None = None, tenants: list[str] | None = None, **kwargs: object
) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(roles, tenants, **kwargs)}"}


def verifier() -> JwtVerifier:
    return JwtVerifier(
        issuer=ISSUER,
        audience=AUDIENCE,
        roles_claim="chronos:roles",
        tenants_claim="chronos:tenants",
        secret=TEST_SECRET,
    )
