"""Where a scan's pipeline data lives in the pipeline bucket."""

from __future__ import annotations

from chronos_core.domain.ids import ScanId


def scan_prefix(scan_id: ScanId) -> str:
    return f"scans/{scan_id}/"


def scored_chunk_key(scan_id: ScanId, offset: int) -> str:
    """The checkpoint of a scored chunk: its candidates, counts and data-quality issues."""
    return f"scans/{scan_id}/chunks/{offset:012d}.json"


def partial_chunk_key(scan_id: ScanId, offset: int) -> str:
    """The readings of a chunk read so far, while its reading continues over several calls."""
    return f"scans/{scan_id}/partial/{offset:012d}.json"
