"""Canonical JSON for hashing: sorted keys, no whitespace, UTF-8, and no floats.

On documents without floats this is byte-identical to RFC 8785 (JCS) for keys in the Basic
Multilingual Plane, so a certifier in another language can recompute every digest. Floats are
refused because their textual form differs between serialisers; rates travel as decimal strings.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


class NotCanonical(ValueError):
    """The value holds something canonical JSON cannot carry (a float, a non-string key, NaN)."""


def _check(value: Any, depth: int = 0) -> None:
    if depth > 64:
        raise NotCanonical("nested deeper than 64")
    if isinstance(value, float):
        raise NotCanonical(f"float {value!r}: write rates as decimal strings")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotCanonical(f"key {key!r} is not a string")
            _check(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check(item, depth + 1)
    elif value is not None and not isinstance(value, str | int | bool):
        raise NotCanonical(f"{type(value).__name__} is not JSON")


def canonical_json(value: Any) -> bytes:
    _check(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def digest(value: Any) -> str:
    """sha256 hex of the canonical JSON of `value`."""
    return hashlib.sha256(canonical_json(value)).hexdigest()
