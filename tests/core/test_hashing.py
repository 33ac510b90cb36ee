"""shipahead.hashing: sha256 fingerprints of files, bytes, text and JSON payloads."""

import hashlib
import json
from pathlib import Path

from shipahead.hashing import bytes_sha256, file_sha256, json_sha256, text_sha256


def test_file_sha256_matches_hashlib(tmp_path: Path) -> None:
    data = bytes(range(256)) * 9000  # > 1 MiB: read in more than one block
    p = tmp_path / "roads.osm.pbf"
    p.write_bytes(data)
    assert file_sha256(p) == hashlib.sha256(data).hexdigest()
    assert file_sha256(str(p)) == file_sha256(p)


def test_empty_file(tmp_path: Path) -> None:
    p = tmp_path / "empty.csv"
    p.write_bytes(b"")
    assert file_sha256(p) == hashlib.sha256(b"").hexdigest()


def test_bytes_and_text() -> None:
    assert bytes_sha256(b"abc") == hashlib.sha256(b"abc").hexdigest()
    assert text_sha256("vé-1") == hashlib.sha256("vé-1".encode()).hexdigest()


def test_json_payload_is_order_free_and_stringifies() -> None:
    a = {"step": "routes", "params": {"b": 2, "a": Path("x")}}
    b = {"params": {"a": Path("x"), "b": 2}, "step": "routes"}
    assert json_sha256(a) == json_sha256(b)
    expected = hashlib.sha256(json.dumps(a, sort_keys=True, default=str).encode()).hexdigest()
    assert json_sha256(a) == expected
    assert json_sha256(a) != json_sha256({**a, "step": "placement"})
