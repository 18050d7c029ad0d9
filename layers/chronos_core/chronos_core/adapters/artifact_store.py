"""Artifact stores: GridFS (bucket ``model_artifacts``) and an in-memory one for tests and benches.

Both verify the sha256 recorded at write time on every read. Writes are retry-safe: the new file
is written first, then older files of the same job and artifact type are deleted, so a job that
runs twice leaves exactly one file per type.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Final

import gridfs
from bson import ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING
from pymongo.database import Database

from chronos_core.domain.artifacts import ArtifactMeta, StoredArtifact, verify
from chronos_core.domain.errors import ArtifactNotFoundError

BUCKET_NAME: Final = "model_artifacts"


class GridFSArtifactStore:
    """:class:`~chronos_core.application.ports.artifacts.ArtifactStore` on a GridFS bucket."""

    def __init__(self, db: Database[Any], bucket_name: str = BUCKET_NAME) -> None:
        self._db = db
        self._bucket = gridfs.GridFSBucket(db, bucket_name=bucket_name)
        self._files = db[f"{bucket_name}.files"]

    def ensure_indexes(self) -> None:
        """Index the lookups by job and model (GridFS creates its own chunk index)."""
        self._files.create_index(
            [("metadata.training_job_id", ASCENDING), ("metadata.artifact_type", ASCENDING)]
        )
        self._files.create_index([("metadata.model_id", ASCENDING)])

    def put(self, data: bytes, meta: ArtifactMeta) -> str:
        document = meta.model_dump(mode="python")
        document["artifact_type"] = meta.artifact_type.value
        file_id = self._bucket.upload_from_stream(meta.filename(), data, metadata=document)
        stale = self._files.find(
            {
                "metadata.training_job_id": meta.training_job_id,
                "metadata.artifact_type": meta.artifact_type.value,
                "_id": {"$ne": file_id},
            },
            {"_id": 1},
        )
        for old in list(stale):
            with contextlib.suppress(gridfs.errors.NoFile):  # deleted concurrently
                self._bucket.delete(old["_id"])
        return str(file_id)

    def get(self, artifact_id: str) -> StoredArtifact:
        try:
            oid = ObjectId(artifact_id)
        except (InvalidId, TypeError) as exc:
            raise ArtifactNotFoundError(f"Artifact {artifact_id} not found.") from exc
        try:
            stream = self._bucket.open_download_stream(oid)
        except gridfs.errors.NoFile as exc:
            raise ArtifactNotFoundError(f"Artifact {artifact_id} not found.") from exc
        with stream:
            data = stream.read()
            meta = ArtifactMeta.model_validate(stream.metadata or {})
        return verify(StoredArtifact(artifact_id=artifact_id, data=data, meta=meta))

    def delete_job(self, training_job_id: str) -> int:
        ids = [d["_id"] for d in self._files.find({"metadata.training_job_id": training_job_id}, {"_id": 1})]
        for oid in ids:
            with contextlib.suppress(gridfs.errors.NoFile):
                self._bucket.delete(oid)
        return len(ids)


class InMemoryArtifactStore:
    """Same contract as :class:`GridFSArtifactStore`, in a dict (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[str, tuple[bytes, ArtifactMeta]] = {}
        self._counter = 0

    def put(self, data: bytes, meta: ArtifactMeta) -> str:
        with self._lock:
            self._counter += 1
            artifact_id = f"{self._counter:024x}"
            self._items[artifact_id] = (bytes(data), meta)
            for key, (_, other) in list(self._items.items()):
                if (
                    key != artifact_id
                    and other.training_job_id == meta.training_job_id
                    and other.artifact_type == meta.artifact_type
                ):
                    del self._items[key]
            return artifact_id

    def get(self, artifact_id: str) -> StoredArtifact:
        with self._lock:
            item = self._items.get(artifact_id)
        if item is None:
            raise ArtifactNotFoundError(f"Artifact {artifact_id} not found.")
        return verify(StoredArtifact(artifact_id=artifact_id, data=item[0], meta=item[1]))

    def delete_job(self, training_job_id: str) -> int:
        with self._lock:
            keys = [k for k, (_, m) in self._items.items() if m.training_job_id == training_job_id]
            for key in keys:
                del self._items[key]
        return len(keys)

    def tamper(self, artifact_id: str, data: bytes) -> None:
        """Test helper: replace the stored bytes without updating the checksum."""
        with self._lock:
            _, meta = self._items[artifact_id]
            self._items[artifact_id] = (data, meta)

    def __len__(self) -> int:
        return len(self._items)
