"""``python -m local.fiware_sandbox serve|seed`` (run from the repo root with
``PYTHONPATH=layers/chronos_core:.``)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

COMPONENTS = ("orion", "sth", "iota")


def _env(*names: str, default: str) -> str:
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    return default


def _components(value: str) -> tuple[str, ...]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = sorted(set(names) - set(COMPONENTS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(COMPONENTS)}, got {value!r}"
        )
    return tuple(name for name in COMPONENTS if name in names)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local.fiware_sandbox", description="FIWARE sandbox")
    sub = parser.add_subparsers(dest="command", required=True)
    mongo_default = _env("FIWARE_SANDBOX_MONGODB_URI", "MONGODB_URI", default="mongodb://127.0.0.1:27118/")
    db_default = _env("FIWARE_SANDBOX_DATABASE", default="fiware_sandbox")

    serve = sub.add_parser("serve", help="run Orion, STH-Comet and IoT Agent doubles")
    serve.add_argument("--host", default=_env("FIWARE_SANDBOX_HOST", default="127.0.0.1"))
    serve.add_argument(
        "--orion-port",
        type=int,
        default=int(_env("CHRONOS_SANDBOX_ORION_PORT", "FIWARE_SANDBOX_ORION_PORT", default="11026")),
    )
    serve.add_argument(
        "--sth-port",
        type=int,
        default=int(_env("CHRONOS_SANDBOX_STH_PORT", "FIWARE_SANDBOX_STH_PORT", default="18666")),
    )
    serve.add_argument(
        "--iota-port",
        type=int,
        default=int(_env("CHRONOS_SANDBOX_IOTA_PORT", "FIWARE_SANDBOX_IOTA_PORT", default="14041")),
    )
    serve.add_argument(
        "--components",
        type=_components,
        default=COMPONENTS,
        help="comma-separated components to serve, of orion,sth,iota (default all three); the "
        "others are left to real FIWARE and their ports are not bound",
    )
    serve.add_argument("--mongodb-uri", default=mongo_default)
    serve.add_argument("--database", default=db_default)
    serve.add_argument("--pid-file", type=Path)
    serve.add_argument("--sth-max-page-size", type=int, default=100, help="STH MAX_PAGE_SIZE (default 100)")
    serve.add_argument("--log-level", default="warning")

    seed = sub.add_parser("seed", help="load a series into STH (and Orion, and the IoT Agent)")
    source = seed.add_mutually_exclusive_group(required=True)
    source.add_argument("--csv", type=Path, help="timestamp,value rows (header optional) or one value column")
    source.add_argument(
        "--taylor", action="store_true", help="pmdarima's Taylor half-hourly demand (4032 pts)"
    )
    seed.add_argument("--entity-type", required=True)
    seed.add_argument("--entity-id", required=True)
    seed.add_argument("--attr", required=True)
    seed.add_argument("--attr-type", default="Number")
    seed.add_argument("--service", required=True)
    seed.add_argument("--servicepath", default="/")
    seed.add_argument("--start", help="first sampling instant (ISO 8601) when the source has no timestamps")
    seed.add_argument("--interval-seconds", type=float, help="sampling interval (Taylor: 1800; CSV: 60)")
    seed.add_argument("--jitter-ms", type=int, default=900, help="max delivery latency added to recvTime")
    seed.add_argument("--seed", type=int, default=0)
    seed.add_argument("--limit", type=int, help="keep only the last N points")
    seed.add_argument("--value-format", choices=("string", "number"), default="string")
    seed.add_argument("--register-device", action="store_true")
    seed.add_argument("--device-id")
    seed.add_argument("--mongodb-uri", default=mongo_default)
    seed.add_argument("--database", default=db_default)
    seed.add_argument("--sth-url", help="seed STH-Comet through its API (real FIWARE too), not the database")
    seed.add_argument("--orion-url", help="seed Orion through its API (real FIWARE too), not the database")
    seed.add_argument("--iota-url", help="register the device through the IoT Agent's API, not the database")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "serve":
        from local.fiware_sandbox.server import serve

        serve(
            mongodb_uri=args.mongodb_uri,
            database=args.database,
            host=args.host,
            orion_port=args.orion_port,
            sth_port=args.sth_port,
            iota_port=args.iota_port,
            components=args.components,
            pid_file=args.pid_file,
            sth_max_page_size=args.sth_max_page_size,
            log_level=args.log_level,
        )
        return 0

    from local.fiware_sandbox import seed as seeding
    from local.fiware_sandbox.sth import parse_time

    stamps_in: list[datetime | None]
    if args.taylor:
        values = seeding.load_taylor()
        stamps_in = [None] * len(values)
        interval = timedelta(seconds=args.interval_seconds or 1800)
        start = parse_time(args.start) if args.start else seeding.TAYLOR_START
    else:
        stamps_in, values = seeding.load_csv(args.csv)
        interval = timedelta(seconds=args.interval_seconds or 60)
        default_start = datetime.now(UTC).replace(second=0, microsecond=0) - interval * len(values)
        start = parse_time(args.start) if args.start else default_start
    if args.limit:
        values, stamps_in = values[-args.limit :], stamps_in[-args.limit :]
    if all(s is not None for s in stamps_in):
        base = [s for s in stamps_in if s is not None]
        jitter = seeding.realistic_stamps(
            len(base),
            datetime(2000, 1, 1, tzinfo=UTC),
            timedelta(0),
            jitter_ms=args.jitter_ms,
            seed=args.seed,
        )
        offsets = [j - datetime(2000, 1, 1, tzinfo=UTC) for j in jitter]
        stamps = [b + o for b, o in zip(base, offsets, strict=True)]
        stamps = [s.replace(microsecond=s.microsecond // 1000 * 1000) for s in stamps]
    else:
        stamps = seeding.realistic_stamps(
            len(values), start, interval, jitter_ms=args.jitter_ms, seed=args.seed
        )
    result = seeding.seed_series(
        mongodb_uri=args.mongodb_uri,
        database=args.database,
        sth_url=args.sth_url,
        orion_url=args.orion_url,
        iota_url=args.iota_url,
        auth_token=os.environ.get("CHRONOS_FIWARE_AUTH_TOKEN") or None,
        values=values,
        stamps=stamps,
        service=args.service,
        servicepath=args.servicepath,
        entity_type=args.entity_type,
        entity_id=args.entity_id,
        attr=args.attr,
        attr_type=args.attr_type,
        value_format=args.value_format,
        register_device=args.register_device,
        device_id=args.device_id,
    )
    device = f", device {result.device_id}" if result.device_id else ""
    print(
        f"seeded {result.points} points of {args.entity_type}/{args.entity_id}/{args.attr} "
        f"({args.service.lower()}{args.servicepath}) "
        f"from {result.first.isoformat()} to {result.last.isoformat()}{device}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
