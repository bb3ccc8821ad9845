"""Typed reading of untrusted JSON documents (policies, waivers, trust files, certificates).

Every error names the JSON pointer of the offending field, unknown keys are refused (a typo in a
policy must not silently weaken it), and sizes are bounded.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from modelcert.errors import ModelcertError

MAX_DOCUMENT_BYTES = 32 * 1024 * 1024
MAX_TEXT = 64 * 1024
MAX_ITEMS = 100_000


class DocumentError(ModelcertError):
    """A JSON document does not have the shape its schema requires."""


def load_json(data: bytes | str, what: str) -> Any:
    """Parse JSON, refusing duplicate keys (two parsers must never see two different documents)."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw) > MAX_DOCUMENT_BYTES:
        raise DocumentError(f"{what}: {len(raw)} bytes (limit {MAX_DOCUMENT_BYTES})")
    try:
        return json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except DocumentError as exc:
        raise DocumentError(f"{what}: {exc}") from None
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, int too long
        raise DocumentError(f"{what}: not valid JSON: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise DocumentError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise DocumentError(f"{name} is not JSON")


def format_time(moment: datetime) -> str:
    """RFC 3339 UTC with second precision: 2026-01-31T12:00:00Z."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, where: str) -> datetime:
    """An RFC 3339 timestamp with an explicit offset (a naive time is ambiguous across jurisdictions)."""
    try:
        moment = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise DocumentError(f"{where}: {text!r} is not an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise DocumentError(f"{where}: {text!r} has no UTC offset (write e.g. 2026-01-31T00:00:00Z)")
    return moment.astimezone(UTC)


class Fields:
    """One JSON object, read field by field; `where` is its JSON pointer for messages."""

    def __init__(self, obj: Any, where: str, allowed: Iterable[str] | None = None) -> None:
        if not isinstance(obj, Mapping):
            raise DocumentError(f"{where or '/'}: expected an object, found {_kind(obj)}")
        self.obj: Mapping[str, Any] = obj
        self.where = where
        if allowed is not None:
            unknown = sorted(set(obj) - set(allowed))
            if unknown:
                raise DocumentError(f"{where or '/'}: unknown field(s) {', '.join(map(repr, unknown))}")

    def at(self, key: str) -> str:
        return f"{self.where}/{key}"

    def has(self, key: str) -> bool:
        return key in self.obj and self.obj[key] is not None

    def _get(self, key: str) -> Any:
        if key not in self.obj or self.obj[key] is None:
            raise DocumentError(f"{self.at(key)}: required field is missing")
        return self.obj[key]

    def text(self, key: str, *, max_len: int = MAX_TEXT) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise DocumentError(f"{self.at(key)}: expected a string, found {_kind(value)}")
        if len(value) > max_len:
            raise DocumentError(f"{self.at(key)}: longer than {max_len} characters")
        return value

    def opt_text(self, key: str, *, max_len: int = MAX_TEXT) -> str | None:
        return self.text(key, max_len=max_len) if self.has(key) else None

    def choice(self, key: str, options: Iterable[str], default: str | None = None) -> str:
        allowed = tuple(options)
        if default is not None and not self.has(key):
            return default
        value = self.text(key)
        if value not in allowed:
            raise DocumentError(f"{self.at(key)}: {value!r} is not one of {', '.join(allowed)}")
        return value

    def integer(self, key: str, *, minimum: int | None = None, default: int | None = None) -> int:
        if default is not None and not self.has(key):
            return default
        value = self._get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise DocumentError(f"{self.at(key)}: expected an integer, found {_kind(value)}")
        if minimum is not None and value < minimum:
            raise DocumentError(f"{self.at(key)}: {value} is below the minimum {minimum}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        if not self.has(key):
            return default
        value = self.obj[key]
        if not isinstance(value, bool):
            raise DocumentError(f"{self.at(key)}: expected true or false, found {_kind(value)}")
        return value

    def items(self, key: str, *, required: bool = True, max_items: int = MAX_ITEMS) -> list[Any]:
        if not required and not self.has(key):
            return []
        value = self._get(key)
        if not isinstance(value, list):
            raise DocumentError(f"{self.at(key)}: expected a list, found {_kind(value)}")
        if len(value) > max_items:
            raise DocumentError(f"{self.at(key)}: more than {max_items} entries")
        return value

    def texts(self, key: str, *, required: bool = True) -> list[str]:
        values = self.items(key, required=required)
        for index, value in enumerate(values):
            if not isinstance(value, str):
                raise DocumentError(f"{self.at(key)}/{index}: expected a string, found {_kind(value)}")
        return values

    def child(self, key: str, allowed: Iterable[str] | None = None) -> Fields:
        return Fields(self._get(key), self.at(key), allowed)

    def time(self, key: str) -> datetime:
        return parse_time(self.text(key, max_len=64), self.at(key))

    def sha256(self, key: str) -> str:
        """A lowercase hex SHA-256 string."""
        return check_sha256(self.text(key, max_len=64), self.at(key))


def check_sha256(value: str, where: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise DocumentError(f"{where}: expected 64 lowercase hex digits (SHA-256)")
    return value


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)
