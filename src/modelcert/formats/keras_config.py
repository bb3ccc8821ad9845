"""Keras model configs (config.json of a .keras zip, `model_config` of an .h5, Keras SavedModel
metadata) → an inert list of the object references a Keras loader would resolve.

Keras deserialises a config by walking it: every dict with a `class_name` names a class or a
function (`module` + `class_name`/`config`, or a `registered_name` for custom objects), and
`__lambda__` / legacy Lambda `function` entries carry marshalled Python bytecode. This module walks
the whole JSON tree iteratively with depth and count bounds and records every such reference with
its JSON pointer; it never imports keras and never unmarshals anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.limits import Limits
from modelcert.records import Record

# Names whose mere presence anywhere in a config (as a whole word) is a known gadget (see
# checks/keras.py): `keras.utils.get_file`, `keras.config.enable_unsafe_deserialization`.
GADGET_NEEDLES = ("get_file", "enable_unsafe_deserialization")
_NEEDLE_PATTERNS = tuple((needle, re.compile(rf"(?<![A-Za-z0-9_]){needle}(?![A-Za-z0-9_])"))
                         for needle in GADGET_NEEDLES)
_MAX_STRING_HITS = 100


class ObjectRef(Record):
    """One dict a Keras loader would resolve to a class or function."""

    __slots__ = ("class_name", "config", "function_name", "module", "pointer", "registered_name", "typespec")
    pointer: Final[str]
    class_name: Final[str]
    module: Final[str | None]
    registered_name: Final[str | None]
    function_name: Final[str | None]  # `config` of a {"class_name": "function"} entry
    config: Final[Any]  # the inner `config` value, as parsed (inert JSON data)
    typespec: Final[bool]  # a `__typespec__` entry: class_name holds its spec_name

    def __init__(
        self,
        pointer: str,
        class_name: str,
        module: str | None,
        registered_name: str | None,
        function_name: str | None,
        config: Any,
        typespec: bool = False,
    ) -> None:
        self.pointer = pointer
        self.class_name = class_name
        self.module = module
        self.registered_name = registered_name
        self.function_name = function_name
        self.config = config
        self.typespec = typespec

    @property
    def name(self) -> str:
        """The symbol the loader looks up: the function's name for functions, else the class name."""
        if self.class_name == "function" and self.function_name is not None:
            return self.function_name
        return self.class_name


class StringHit(Record):
    __slots__ = ("needle", "pointer", "value")
    pointer: Final[str]
    needle: Final[str]
    value: Final[str]

    def __init__(self, pointer: str, needle: str, value: str) -> None:
        self.pointer = pointer
        self.needle = needle
        self.value = value


class KerasConfigView(Record):
    __slots__ = ("refs", "string_hits", "values_walked")
    refs: Final[tuple[ObjectRef, ...]]
    string_hits: Final[tuple[StringHit, ...]]
    values_walked: Final[int]

    def __init__(
        self,
        refs: tuple[ObjectRef, ...],
        string_hits: tuple[StringHit, ...],
        values_walked: int,
    ) -> None:
        self.refs = refs
        self.string_hits = string_hits
        self.values_walked = values_walked


def parse_json(data: bytes | str, limits: Limits, what: str = "config") -> Any:
    """Parse JSON within the size limit; FormatError when it is not JSON.

    Nesting is bounded twice: the C parser raises RecursionError long before the stack is at risk,
    and `walk_config` refuses anything deeper than `max_json_depth`.
    """
    size = len(data)
    if size > limits.max_json_bytes:
        raise LimitExceeded(f"{what}: {size} bytes exceeds the JSON limit of {limits.max_json_bytes}")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FormatError(f"{what} is not UTF-8 text", exc.start) from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{what} is not JSON: {exc.msg}", exc.pos) from None
    except RecursionError:
        raise LimitExceeded(f"{what}: JSON nested beyond the recursion limit") from None


def walk_config(root: Any, limits: Limits, prefix: str = "") -> KerasConfigView:
    """Every object reference and gadget string in a parsed config, depth-first, bounded."""
    refs: list[ObjectRef] = []
    hits: list[StringHit] = []
    stack: list[tuple[str, Any, int]] = [(prefix, root, 0)]
    walked = 0
    while stack:
        pointer, value, depth = stack.pop()
        walked += 1
        if walked > limits.max_count:
            raise LimitExceeded(f"config holds more than {limits.max_count} values")
        if depth > limits.max_json_depth:
            raise LimitExceeded(f"config nested deeper than {limits.max_json_depth} at {pointer or '/'}")
        if isinstance(value, Mapping):
            ref = _as_ref(pointer, value)
            if ref is not None:
                refs.append(ref)
            for key, child in reversed(list(value.items())):
                key_text = str(key)
                _string_hit(f"{pointer}/{key_text}", key_text, hits)
                stack.append((f"{pointer}/{_escape(key_text)}", child, depth + 1))
        elif isinstance(value, list):
            for index in range(len(value) - 1, -1, -1):
                stack.append((f"{pointer}/{index}", value[index], depth + 1))
        elif isinstance(value, str):
            _string_hit(pointer, value, hits)
    return KerasConfigView(refs=tuple(refs), string_hits=tuple(hits), values_walked=walked)


def _as_ref(pointer: str, obj: Mapping[str, Any]) -> ObjectRef | None:
    class_name = obj.get("class_name")
    if not isinstance(class_name, str):
        return None
    module = obj.get("module")
    registered = obj.get("registered_name")
    inner = obj.get("config")
    typespec = class_name == "__typespec__"
    if typespec:
        spec = obj.get("spec_name")
        class_name = spec if isinstance(spec, str) else class_name
    return ObjectRef(
        pointer=pointer or "/",
        class_name=class_name,
        module=module if isinstance(module, str) else None,
        registered_name=registered if isinstance(registered, str) else None,
        function_name=inner if class_name == "function" and isinstance(inner, str) else None,
        config=inner,
        typespec=typespec,
    )


def _string_hit(pointer: str, text: str, hits: list[StringHit]) -> None:
    if len(hits) >= _MAX_STRING_HITS:
        return
    for needle, pattern in _NEEDLE_PATTERNS:
        if needle in text and pattern.search(text):
            hits.append(StringHit(pointer or "/", needle, text[:200]))


def _escape(key: str) -> str:
    # RFC 6901 JSON pointer escaping, so a key cannot fake a path.
    return key.replace("~", "~0").replace("/", "~1")
