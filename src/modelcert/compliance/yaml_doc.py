"""YAML for untrusted policy documents: safe types only, no aliases, no duplicate keys, bounded size.

PyYAML's SafeLoader already refuses Python object tags; aliases are refused too (a few lines of
anchors expand into gigabytes: "billion laughs"), and so are duplicate keys, which PyYAML would
otherwise resolve silently to the last value — a pack must mean the same thing to every reader.
"""

from __future__ import annotations

from typing import Any

import yaml  # type: ignore[import-untyped]

from modelcert.policy.fields import DocumentError

MAX_YAML_BYTES = 4 * 1024 * 1024


class _StrictLoader(yaml.SafeLoader):  # type: ignore[misc]
    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise DocumentError(
                f"line {event.start_mark.line + 1}: YAML aliases are not allowed in a policy pack"
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, list | dict):
                raise DocumentError(f"line {key_node.start_mark.line + 1}: mapping keys must be scalars")
            if key in seen:
                raise DocumentError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_yaml(data: bytes, what: str) -> Any:
    if len(data) > MAX_YAML_BYTES:
        raise DocumentError(f"{what}: {len(data)} bytes (limit {MAX_YAML_BYTES})")
    try:
        return yaml.load(data, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except DocumentError as exc:
        raise DocumentError(f"{what}: {exc}") from None
    except (yaml.YAMLError, RecursionError, UnicodeDecodeError) as exc:
        raise DocumentError(f"{what}: not valid YAML: {str(exc)[:300]}") from None
