"""Reading a training dataset: from S3 (``s3://bucket/key``) or a local path.

Accepted formats (by extension, optionally ``.gz``-compressed):

- ``.json``: ``[[ts, value], ...]``, ``[{"timestamp": ts, "value": v}, ...]`` or either of those
  under a ``"points"`` key. Timestamp keys tried: ``timestamp``, ``ts``, ``time``, ``recvTime``,
  ``TimeInstant``; value keys: ``value``, ``attrValue``, ``v``.
- ``.jsonl`` / ``.ndjson``: one such pair or object per line.
- ``.csv``: a header row naming a timestamp and a value column (same names), then rows.

Timestamps may be ISO-8601 strings, epoch seconds, or datetimes; parsing and validation happen
in :func:`chronos_core.ml.preprocessing.clean_points`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path
from typing import Any

TIMESTAMP_KEYS = ("timestamp", "ts", "time", "recvTime", "TimeInstant")
VALUE_KEYS = ("value", "attrValue", "v")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` -> ``(bucket, key)``."""
    rest = uri.removeprefix("s3://")
    bucket, _, key = rest.partition("/")
    if not bucket or not key:
        raise ValueError(f"not an s3://bucket/key URI: {uri!r}")
    return bucket, key


def read_bytes(location: str, s3_client: Any | None = None) -> bytes:
    """The raw bytes at ``location`` (``s3://`` needs ``s3_client``, a boto3 S3 client)."""
    if location.startswith("s3://"):
        if s3_client is None:
            raise ValueError("an S3 client is needed to read " + location)
        bucket, key = split_s3_uri(location)
        body: bytes = s3_client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
    return Path(location).read_bytes()


def write_bytes(location: str, data: bytes, s3_client: Any | None = None) -> None:
    """Write ``data`` to ``location`` (``s3://`` or a local path)."""
    if location.startswith("s3://"):
        if s3_client is None:
            raise ValueError("an S3 client is needed to write " + location)
        bucket, key = split_s3_uri(location)
        s3_client.put_object(Bucket=bucket, Key=key, Body=data, ContentType="application/json")
        return
    Path(location).write_bytes(data)


def _pair(item: Any) -> tuple[Any, Any]:
    if isinstance(item, list | tuple) and len(item) == 2:
        return item[0], item[1]
    if isinstance(item, dict):
        ts = next((item[k] for k in TIMESTAMP_KEYS if k in item), None)
        value = next((item[k] for k in VALUE_KEYS if k in item), None)
        return ts, value
    return None, None


def parse_points(data: bytes, name: str) -> list[tuple[Any, Any]]:
    """Decode ``data`` (format chosen by ``name``'s extension) into ``(timestamp, value)`` pairs."""
    if name.endswith(".gz"):
        data = gzip.decompress(data)
        name = name[: -len(".gz")]
    text = data.decode("utf-8")
    if name.endswith((".jsonl", ".ndjson")):
        return [_pair(json.loads(line)) for line in text.splitlines() if line.strip()]
    if name.endswith(".csv"):
        reader = csv.DictReader(io.StringIO(text))
        return [_pair(row) for row in reader]
    document = json.loads(text)
    if isinstance(document, dict):
        document = document.get("points", [])
    if not isinstance(document, list):
        raise ValueError("a JSON dataset must be a list of points or hold one under 'points'")
    return [_pair(item) for item in document]


def load_points(location: str, s3_client: Any | None = None) -> list[tuple[Any, Any]]:
    """Read and decode the dataset at ``location``."""
    return parse_points(read_bytes(location, s3_client), location)
