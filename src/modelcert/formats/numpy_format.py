"""The `.npy` header: magic, version, and the header dict, parsed without loading any array data.

The header is a Python dict literal; it is parsed with `ast.literal_eval` on a bounded string, which
only builds literals (it cannot call or import anything). The dtype is rebuilt with numpy's own
`descr_to_dtype`, which creates a dtype object from strings and tuples and never touches the data.
An object dtype anywhere (a plain `'|O'` or a structured field) means the data after the header is a
pickle stream: `np.load(..., allow_pickle=True)` unpickles it (CVE-2019-6446).
"""

from __future__ import annotations

import math
import struct
from typing import Any, Final, cast

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.pycode import parse_literal
from modelcert.limits import Limits
from modelcert.records import Record

MAGIC = b"\x93NUMPY"
# numpy's own np.load refuses headers above 10,000 bytes unless allow_pickle=True; legitimate headers
# of wide structured dtypes stay far below this ceiling.
MAX_HEADER_BYTES = 1024 * 1024
REQUIRED_KEYS = frozenset({"descr", "fortran_order", "shape"})
_DTYPE_ERRORS = (TypeError, ValueError, KeyError, IndexError, OverflowError, RecursionError, MemoryError)


class NpyHeader(Record):
    """What an .npy file declares about its array."""

    __slots__ = ("data_offset", "descr", "fortran_order", "has_object", "itemsize", "shape", "version")
    version: Final[tuple[int, int]]
    descr: Final[Any]  # the literal: a dtype string or a list of field tuples
    fortran_order: Final[bool]
    shape: Final[tuple[int, ...]]
    has_object: Final[bool]
    itemsize: Final[int]
    data_offset: Final[int]

    def __init__(
        self,
        version: tuple[int, int],
        descr: Any,
        fortran_order: bool,
        shape: tuple[int, ...],
        has_object: bool,
        itemsize: int,
        data_offset: int,
    ) -> None:
        self.version = version
        self.descr = descr
        self.fortran_order = fortran_order
        self.shape = shape
        self.has_object = has_object
        self.itemsize = itemsize
        self.data_offset = data_offset

    @property
    def count(self) -> int:
        return math.prod(self.shape)

    @property
    def expected_data_bytes(self) -> int:
        return self.count * self.itemsize


def read_npy_header(blob: Blob, limits: Limits) -> NpyHeader:
    """Parse the header of an .npy file; FormatError when numpy itself would refuse it."""
    prefix = blob.read_at(0, 12)
    if not prefix.startswith(MAGIC) or len(prefix) < 10:
        raise FormatError("not an .npy file (magic missing)", 0)
    major, minor = prefix[6], prefix[7]
    if (major, minor) == (1, 0):
        (header_len,) = struct.unpack_from("<H", prefix, 8)
        start = 10
    elif (major, minor) in ((2, 0), (3, 0)):
        if len(prefix) < 12:
            raise FormatError("truncated .npy header length", 8)
        (header_len,) = struct.unpack_from("<I", prefix, 8)
        start = 12
    else:
        raise FormatError(f"unsupported .npy format version {major}.{minor}", 6)
    if header_len > min(MAX_HEADER_BYTES, limits.max_header_bytes):
        raise LimitExceeded(f".npy header of {header_len} bytes (limit {MAX_HEADER_BYTES})", 8)
    raw = blob.read_at(start, header_len)
    if len(raw) < header_len:
        raise FormatError(f".npy header claims {header_len} bytes but the file ends first", start)
    encoding = "utf-8" if major == 3 else "latin1"
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        raise FormatError(f".npy header is not {encoding}", start + exc.start) from exc
    header = _literal(text, start)
    descr, fortran_order, shape = _validate(header, start)
    has_object, itemsize = _dtype_facts(descr, start)
    return NpyHeader(
        version=(major, minor),
        descr=descr,
        fortran_order=fortran_order,
        shape=shape,
        has_object=has_object,
        itemsize=itemsize,
        data_offset=start + header_len,
    )


def _literal(text: str, offset: int) -> Any:
    try:
        return parse_literal(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as exc:
        raise FormatError(f".npy header is not a Python literal: {type(exc).__name__}", offset) from exc


def _validate(header: Any, offset: int) -> tuple[Any, bool, tuple[int, ...]]:
    if not isinstance(header, dict):
        raise FormatError(f".npy header is a {type(header).__name__}, not a dict", offset)
    keys = set(header)
    if keys != REQUIRED_KEYS:
        found = sorted(map(repr, keys))
        raise FormatError(f".npy header keys {found} are not {sorted(REQUIRED_KEYS)}", offset)
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise FormatError(f".npy shape {shape!r} is not a tuple of non-negative ints", offset)
    if not isinstance(header["fortran_order"], bool):
        raise FormatError(".npy fortran_order is not a bool", offset)
    return header["descr"], header["fortran_order"], shape


def _dtype_facts(descr: Any, offset: int) -> tuple[bool, int]:
    """Whether the dtype holds Python objects anywhere, and its item size, as numpy computes them."""
    from numpy.lib.format import descr_to_dtype

    if not isinstance(descr, str | list):
        raise FormatError(f".npy descr {type(descr).__name__} is neither a string nor a field list", offset)
    try:
        dtype = descr_to_dtype(cast(Any, descr))
    except _DTYPE_ERRORS as exc:
        raise FormatError(f".npy descr is not a valid dtype: {type(exc).__name__}", offset) from exc
    return bool(dtype.hasobject), int(dtype.itemsize)
