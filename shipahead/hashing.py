"""sha256 fingerprints: of files (inputs named in plan.json, the road-network cache key),
of bytes and text, and of JSON-able payloads (the run's per-step fingerprints).

Hex digests of ``hashlib.sha256``; files are read in 1 MiB blocks so a large road network
never sits in memory twice.
"""

from __future__ import annotations

import hashlib
import json
from os import PathLike
from typing import Any

__all__ = ["bytes_sha256", "file_sha256", "json_sha256", "text_sha256"]

_BLOCK = 1 << 20  # bytes read at a time


def file_sha256(path: str | PathLike[str]) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def bytes_sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def text_sha256(text: str) -> str:
    """Hex sha256 of text encoded as UTF-8."""
    return bytes_sha256(text.encode())


def json_sha256(payload: Any) -> str:
    """Hex sha256 of a JSON-able payload: keys sorted, anything else as ``str`` — the same
    payload always gives the same digest."""
    return text_sha256(json.dumps(payload, sort_keys=True, default=str))
