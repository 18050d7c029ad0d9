"""How many points per second the STH client pages out of the FIWARE sandbox.

Starts a sandbox on free ports with a throw-away database (or uses the one named by
``CHRONOS_SANDBOX_{ORION,STH,IOTA}_URL``), seeds one series, then times ``SthCometClient.fetch_all``
(100-point pages, ``count=true`` on the first) sequentially and with concurrent page requests.
Prints the figures; writes nothing else (the throw-away database is dropped).

    PYTHONPATH=layers/chronos_core:. .local/venv/bin/python bench/bench_sth_paging.py [--points 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

from chronos_core.adapters.fiware import SthCometClient
from chronos_core.domain.fiware import FiwareTenant, SeriesRef
from local.fiware_sandbox.testing import sandbox_from_env, start_sandbox


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--points", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[2, 4, 8])
    args = parser.parse_args()

    external = sandbox_from_env()
    sandbox = external or start_sandbox()
    try:
        service = f"bench{uuid.uuid4().hex[:8]}"
        base = datetime(2024, 1, 1, tzinfo=UTC)
        points = [
            {"recvTime": (base + timedelta(minutes=i, milliseconds=250)).isoformat().replace("+00:00", "Z"),
             "attrValue": str(20 + (i % 100) / 10)}
            for i in range(args.points)
        ]  # fmt: skip
        sandbox.seed_sth(service=service, servicepath="/", entity_id="urn:ngsi-ld:Meter:bench",
                         entity_type="Meter", attr_name="power", points=points)  # fmt: skip
        tenant = FiwareTenant(service, "/")
        series = SeriesRef(entity_type="Meter", entity_id="urn:ngsi-ld:Meter:bench", attribute="power")
        with SthCometClient(sandbox.sth_url, max_concurrency=max(args.concurrency)) as sth:
            sth.fetch_page(tenant, series, 0, 100)  # warm the connection and the sandbox cache
            print(f"STH client paging benchmark: {args.points} points, pages of {sth.page_size}, "
                  f"best of {args.repeats}")  # fmt: skip
            for concurrency in [1, *args.concurrency]:
                timings = []
                for _ in range(args.repeats):
                    started = time.perf_counter()
                    result = sth.fetch_all(tenant, series, concurrency=concurrency)
                    timings.append(time.perf_counter() - started)
                    assert len(result) == args.points
                best = min(timings)
                label = "sequential" if concurrency == 1 else f"concurrent x{concurrency}"
                print(f"  {label:16} {args.points / best:>10,.0f} points/s  "
                      f"(best {best:.3f} s, median {statistics.median(timings):.3f} s)")  # fmt: skip
    finally:
        if external is None:
            sandbox.stop()


if __name__ == "__main__":
    main()
