"""Mint a development bearer token for the local deployment.

    .local/venv/bin/python local/mint_token.py --role admin --tenant energy [--ttl 3600]

Signs with the local deployment's secret (.local/jwt-secret, created by `local/stack.py deploy`)
and the default issuer/audience of template.yaml. Prints the token only, so it composes:
    TOKEN=$(.local/venv/bin/python local/mint_token.py --role reader --tenant '*')
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "layers" / "chronos_core"), str(ROOT / "local")]

from stack import local_jwt_secret  # noqa: E402

from chronos_core.adapters.jwt_verifier import mint_token  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Mint a local development JWT (HS256).")
    parser.add_argument("--role", action="append", choices=["reader", "operator", "admin"], required=True)
    parser.add_argument("--tenant", action="append", required=True, help="FIWARE service, or '*' for all")
    parser.add_argument("--subject", default="developer")
    parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    parser.add_argument("--issuer", default="chronos-local")
    parser.add_argument("--audience", default="chronos")
    args = parser.parse_args(argv)
    print(
        mint_token(
            secret=local_jwt_secret(),
            subject=args.subject,
            roles=args.role,
            tenants=args.tenant,
            issuer=args.issuer,
            audience=args.audience,
            ttl_seconds=args.ttl,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
