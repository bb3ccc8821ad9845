"""Pickle files: one or more pickle streams, read statically into `StreamView`s.

A file may hold several streams back to back (`pickle.dump` called repeatedly; legacy `torch.save`
writes five: magic number, protocol, sys_info, the model, the storage keys, then raw storage
bytes). Every stream is read; reading stops cleanly at data that is not a pickle (and says so),
and a stream that breaks keeps what it did before the break.

Nothing is ever unpickled: see `pickle_vm` for the symbolic machine.
"""

from __future__ import annotations

from typing import Final

from modelcert.formats.blob import Blob
from modelcert.formats.pickle_layouts import joblib_build_hook
from modelcert.formats.pickle_ops import OPCODES, ByteSource
from modelcert.formats.pickle_values import Lit, Seq, Value
from modelcert.formats.pickle_view import PICKLE_MAGIC_PROTOCOLS, Budget, StreamView
from modelcert.formats.pickle_vm import PickleVM
from modelcert.limits import Limits
from modelcert.records import MutableRecord, Record

TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_LEGACY_STREAMS = 5

__all__ = ["PickleFile", "StreamView", "Trailing", "looks_like_pickle", "read_pickle"]


class Trailing(Record):
    """Bytes after the last stream: torch's raw storages, or data nobody explained."""

    __slots__ = ("kind", "length", "offset")
    offset: Final[int]
    length: Final[int]
    kind: Final[str]  # "torch-storages" | "unexplained"

    def __init__(self, offset: int, length: int, kind: str) -> None:
        self.offset = offset
        self.length = length
        self.kind = kind


class PickleFile(MutableRecord):
    """Every stream of a file and what follows them."""

    __slots__ = ("legacy_torch", "limit_message", "limit_offset", "streams", "trailing")
    streams: list[StreamView]
    trailing: Trailing | None
    legacy_torch: bool
    limit_message: str | None
    limit_offset: int | None

    def __init__(
        self,
        streams: list[StreamView] | None = None,
        trailing: Trailing | None = None,
        legacy_torch: bool = False,
        limit_message: str | None = None,
        limit_offset: int | None = None,
    ) -> None:
        self.streams = [] if streams is None else streams
        self.trailing = trailing
        self.legacy_torch = legacy_torch
        self.limit_message = limit_message
        self.limit_offset = limit_offset

    def all_views(self) -> list[StreamView]:
        """Every stream and the streams nested inside them (joblib object arrays, shadow reads)."""
        out: list[StreamView] = []
        todo = list(reversed(self.streams))
        while todo:
            view = todo.pop()
            out.append(view)
            todo.extend(reversed(view.substreams))
        return out


def looks_like_pickle(head: bytes) -> bool:
    """True for a protocol 2+ magic, or a first byte that is an opcode (protocol 0/1 need a parse)."""
    if len(head) >= 2 and head[0] == 0x80:
        return head[1] <= 5  # PROTO 0..5 (pickle.load accepts an explicit PROTO 0 or 1 too)
    return bool(head) and head[0] in OPCODES


def read_pickle(blob: Blob, limits: Limits, *, start: int = 0) -> PickleFile:
    """Read every pickle stream of `blob` from `start`; never raises for bad input.

    A broken stream ends the file (its view says how it broke); a hit limit is recorded in
    `limit_message` for the caller to raise after reporting what was found.
    """
    result = PickleFile()
    budget = Budget(limits)
    pos = start
    while pos < blob.size:
        first = not result.streams
        head = blob.read_at(pos, 2)
        magic = len(head) == 2 and head[0] == 0x80 and head[1] in PICKLE_MAGIC_PROTOCOLS
        if not first and not looks_like_pickle(head):
            result.trailing = Trailing(pos, blob.size - pos, "unexplained")
            break
        if len(result.streams) >= limits.max_pickle_streams:
            result.limit_message = f"more than {limits.max_pickle_streams} pickle streams in one file"
            result.limit_offset = pos
            break
        vm = PickleVM(
            ByteSource(blob, pos, limits), budget, len(result.streams), build_hook=joblib_build_hook
        )
        view = vm.run()
        if not first and not magic and not view.complete and not (view.globals or view.calls):
            # Bytes after a stream that only parse as a few stray opcodes are data, not a pickle.
            result.trailing = Trailing(pos, blob.size - pos, "unexplained")
            break
        result.streams.append(view)
        if view.end_kind == "limit":
            result.limit_message = view.end_message
            result.limit_offset = view.end_offset
            break
        if not view.complete:
            break
        pos = view.end
        if len(result.streams) == 1 and _is_int(view.root, TORCH_LEGACY_MAGIC):
            result.legacy_torch = True
        legacy_done = result.legacy_torch and len(result.streams) == TORCH_LEGACY_STREAMS
        if legacy_done and _is_str_list(view.root) and pos < blob.size:
            result.trailing = Trailing(pos, blob.size - pos, "torch-storages")
            break
    return result


def _is_int(value: Value | None, expected: int) -> bool:
    return isinstance(value, Lit) and isinstance(value.value, int) and value.value == expected


def _is_str_list(value: Value | None) -> bool:
    return isinstance(value, Seq) and value.kind == "list"
