"""The canonical form of docs/cli.rst, written from its description alone, gives a document's sha256."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from spincycle_jobs import ChainBuilder
from spincycle_jobs import Factory


def canonical(value: Any) -> str:
    """The description, step by step: sorted keys, no whitespace, ASCII with \\u escapes, shortest floats."""
    if isinstance(value, dict):
        items = sorted(value.items())
        return "{" + ",".join(f"{canonical(k)}:{canonical(v)}" for k, v in items) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(canonical, value)) + "]"
    if isinstance(value, str):
        out = []
        for c in value:
            if c in '"\\':
                out.append("\\" + c)
            elif " " <= c <= "~":
                out.append(c)
            elif c in "\n\r\t\b\f":
                out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}[c])
            elif ord(c) > 0xFFFF:
                high, low = divmod(ord(c) - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04x}")
            else:
                out.append(f"\\u{ord(c):04x}")
        return '"' + "".join(out) + '"'
    if value is True or value is False or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    return repr(value) if isinstance(value, float) else str(value)


def test_a_chain_document_hashes_as_described() -> None:
    args = {"name": "déjà vu 🚀", "n": 3, "f": 0.1, "big": 1e300, "nested": {"z": [1, "\t"], "a": None}}
    document = ChainBuilder("req-é", args, factory=Factory()).job("a", "noop", "a").build().to_json()
    body = json.loads(document)
    claimed = body.pop("sha256")
    assert hashlib.sha256(canonical(body).encode("ascii")).hexdigest() == claimed
