"""MongoDB-compatible backends compared on the operations Chronos's workers make (issue #19).

For each server named on the command line (default: the stack's FerretDB v1 on PostgreSQL on 27118
and the same binary on SQLite, which the benchmark starts on 27128 in a temporary directory and
stops afterwards), in a scratch database that is dropped afterwards, prints:

1. ``insert_one`` of a job-like document (~5 KB), p50/p95.
2. ``update_one`` by ``id`` (a unique secondary index, as the adapters key jobs) and by ``_id``.
3. One ``update_many`` over 1,000 documents; one ``bulk_write`` of 10 ``UpdateOne`` by ``id``.
4. ``find`` of 10 documents by ``id ∈ …`` and of one by ``id``, in a 1,000-document collection.
5. ``insert_many`` of 1,000 small documents (the scheduler's claim tickets).
6. A conditional-update race: ``--racers`` threads run the same ``update_one({"id": x,
   "status": "pending"}, {"$set": {"status": "claimed", "owner": k}})`` at once, ``--rounds``
   times; an atomic server has exactly one winner (``modified_count == 1``) per round.

Usage: ``.local/venv/bin/python bench/bench_mongo_backends.py [--server pg=mongodb://127.0.0.1:27118/]
[--server sqlite=mongodb://127.0.0.1:27128/] [--samples 50] [--racers 16] [--rounds 20]``
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pymongo import MongoClient, UpdateOne

DEFAULT_SERVERS = ("pg=mongodb://127.0.0.1:27118/", "sqlite=mongodb://127.0.0.1:27128/")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timed(call: Callable[[], Any]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def report(label: str, name: str, ms: list[float]) -> None:
    if len(ms) == 1:
        print(f"{label:7} {name:52} {ms[0]:9.1f} ms")
    else:
        print(
            f"{label:7} {name:52} p50={pct(ms, 0.5):7.1f} ms  p95={pct(ms, 0.95):7.1f} ms  "
            f"mean={statistics.fmean(ms):7.1f} ms  (n={len(ms)})"
        )


def job_document(i: int) -> dict[str, Any]:
    """A job-like document of about 5 KB (a job's config, metrics and artifacts)."""
    return {
        "id": str(uuid.uuid4()),
        "model_id": "bench",
        "status": "completed",
        "seq": i,
        "prediction_config": {"enabled": True, "interval_seconds": 60, "entity_id": f"urn:bench:{i}"},
        "metrics": {f"m{k}": k * 0.5 for k in range(40)},
        "history": [{"epoch": e, "loss": 1.0 / (e + 1), "val_loss": 1.1 / (e + 1)} for e in range(60)],
        "last_forecast": None,
    }


def bench_server(label: str, uri: str, samples: int, racers: int, rounds: int) -> None:
    client: MongoClient[dict[str, Any]] = MongoClient(uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    version = client.server_info().get("version", "?")
    name = f"chronos_bench_backends_{uuid.uuid4().hex[:8]}"
    db = client[name]
    print(f"{label:7} {uri} (reports MongoDB {version}), scratch database {name}")
    try:
        jobs = db["jobs"]
        jobs.create_index("id", unique=True)
        docs = [job_document(i) for i in range(1000)]
        report(label, "insert_many 1,000 job documents (~5 KB)", [timed(lambda: jobs.insert_many(docs))])
        ids = [d["id"] for d in docs]
        underscore_ids = [d["_id"] for d in docs]

        extra = [job_document(1000 + i) for i in range(samples)]
        report(label, "insert_one (job document)", [timed(lambda d=d: jobs.insert_one(d)) for d in extra])
        report(
            label,
            "update_one by id ($set last_forecast)",
            [
                timed(lambda i=i: jobs.update_one({"id": ids[i]}, {"$set": {"last_forecast": {"n": i}}}))
                for i in range(samples)
            ],
        )
        report(
            label,
            "update_one by _id ($set last_forecast)",
            [
                timed(
                    lambda i=i: jobs.update_one(
                        {"_id": underscore_ids[i]}, {"$set": {"last_forecast": {"n": -i}}}
                    )
                )
                for i in range(samples)
            ],
        )
        report(
            label,
            "bulk_write of 10 UpdateOne by id",
            [
                timed(
                    lambda b=b: jobs.bulk_write(
                        [
                            UpdateOne({"id": ids[k]}, {"$set": {"last_forecast": {"b": b}}})
                            for k in range(b * 10, b * 10 + 10)
                        ],
                        ordered=False,
                    )
                )
                for b in range(min(samples, 100) // 5 or 1)
            ],
        )
        report(
            label,
            "find id ∈ 10 ids (1,000+ documents)",
            [
                timed(lambda b=b: list(jobs.find({"id": {"$in": ids[b * 10 : b * 10 + 10]}})))
                for b in range(20)
            ],
        )
        report(
            label,
            "find_one by id",
            [timed(lambda i=i: jobs.find_one({"id": ids[i]})) for i in range(samples)],
        )
        report(
            label,
            "update_many over 1,000 documents",
            [
                timed(
                    lambda r=r: jobs.update_many({"model_id": "bench"}, {"$set": {"next_prediction_at": r}})
                )
                for r in range(3)
            ],
        )
        tickets = db["tickets"]
        report(
            label,
            "insert_many 1,000 tickets (unordered)",
            [
                timed(
                    lambda r=r: tickets.insert_many(
                        [{"_id": f"{r}|{k}", "tick": "bench"} for k in range(1000)], ordered=False
                    )
                )
                for r in range(3)
            ],
        )
        race(label, uri, name, racers, rounds)
    finally:
        client.drop_database(name)
        client.close()


def race(label: str, uri: str, database: str, racers: int, rounds: int) -> None:
    """``racers`` threads, one client (connection pool) each, run the same conditional update at once."""
    clients: list[MongoClient[dict[str, Any]]] = [MongoClient(uri) for _ in range(racers)]
    collections = [c[database]["race"] for c in clients]
    for c in collections:
        c.find_one()  # connect before the race
    winners_per_round: list[int] = []
    for r in range(rounds):
        key = f"race-{r}"
        collections[0].insert_one({"id": key, "status": "pending"})
        barrier = threading.Barrier(racers)
        wins = [0] * racers

        def run(k: int, key: str = key, barrier: threading.Barrier = barrier, wins: list[int] = wins) -> None:
            barrier.wait()
            result = collections[k].update_one(
                {"id": key, "status": "pending"}, {"$set": {"status": "claimed", "owner": k}}
            )
            wins[k] = result.modified_count

        threads = [threading.Thread(target=run, args=(k,)) for k in range(racers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners_per_round.append(sum(wins))
    for c in clients:
        c.close()
    wrong = [w for w in winners_per_round if w != 1]
    print(
        f"{label:7} {'conditional update race, ' + str(racers) + ' threads':52} "
        f"{rounds - len(wrong)}/{rounds} rounds with exactly one winner; winners per round "
        f"min={min(winners_per_round)} max={max(winners_per_round)} mean={statistics.fmean(winners_per_round):.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", action="append", help="label=mongodb://host:port/")
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--racers", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if not args.server:
            stack.enter_context(sqlite_ferretdb(27128))
        for spec in args.server or DEFAULT_SERVERS:
            label, _, uri = spec.partition("=")
            bench_server(label, uri, args.samples, args.racers, args.rounds)


@contextlib.contextmanager
def sqlite_ferretdb(port: int) -> Iterator[None]:
    """The stack's FerretDB binary on its SQLite backend, in a temporary directory, on ``port``."""
    binary = Path(__file__).resolve().parents[1] / ".local" / "bin" / "ferretdb"
    with tempfile.TemporaryDirectory() as data:
        argv = [
            str(binary),
            "--handler=sqlite",
            f"--sqlite-url=file:{data}/",
            f"--listen-addr=127.0.0.1:{port}",
        ]
        proc = subprocess.Popen(
            [*argv, "--debug-addr=-", "--telemetry=disable", "--log-level=warn"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.2)
            yield
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
