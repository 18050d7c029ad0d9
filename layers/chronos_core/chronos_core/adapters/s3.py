"""S3 object store for pipeline data (checkpoints and datasets)."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError


class S3ObjectStore:
    """:class:`~chronos_core.application.ports.pipeline.ObjectStore` on one bucket. JSON documents only."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def put_json(self, key: str, document: Any) -> None:
        body = json.dumps(document, separators=(",", ":"), allow_nan=False).encode()
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType="application/json")

    def get_json(self, key: str) -> Any:
        response = self._s3.get_object(Bucket=self._bucket, Key=key)
        return json.loads(response["Body"].read())

    def list_keys(self, prefix: str) -> list[str]:
        keys: list[str] = []
        for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def delete_prefix(self, prefix: str) -> int:
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            self._s3.delete_objects(
                Bucket=self._bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        return len(keys)
