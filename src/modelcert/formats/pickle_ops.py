"""Pickle opcodes decoded from a Blob: our own loop, with offsets, bounds and no unpickling.

The decoder follows CPython's C unpickler (`Modules/_pickle.c`), which is what `pickle.load`,
`torch.load` and `joblib.load` run: the same argument encodings, the same errors. Large byte
payloads (tensor data in protocol 4+, joblib arrays) are skipped by length and kept as a window
(offset, length, prefix) instead of being copied into memory.
"""

from __future__ import annotations

import codecs
import pickletools
import struct
from collections.abc import Callable
from typing import Any, Final, NamedTuple

from modelcert.errors import LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits
from modelcert.records import Record

# Byte arguments larger than this stay in the file: only a prefix is read (for nested-pickle sniffing).
INLINE_BYTES = 1024 * 1024
BIG_BYTES_PREFIX = 64 * 1024
_CHUNK = 1024 * 1024

# code byte -> (opcode name, argument decoder name); the names come from pickletools' table so that
# every opcode CPython knows is covered, but the decoding below is ours.
OPCODES: dict[int, tuple[str, str | None]] = {
    ord(op.code.encode("latin-1")): (op.name, op.arg.name if op.arg else None) for op in pickletools.opcodes
}
HIGHEST_PROTOCOL = 5


class StreamBreak(Exception):
    """The stream cannot be read further where a real unpickler would fail too."""

    def __init__(self, message: str, offset: int, *, truncated: bool = False) -> None:
        super().__init__(message)
        self.offset = offset
        self.truncated = truncated


class BigBytes(Record):
    """A byte payload left in the file: where it is, how long, and its first bytes."""

    __slots__ = ("kind", "length", "offset", "prefix")
    offset: Final[int]
    length: Final[int]
    prefix: Final[bytes]
    kind: Final[str]  # "bytes", "bytearray", "str" (UTF-8, validated) or "py2str" (protocol 0/1 STRING)

    def __init__(self, offset: int, length: int, prefix: bytes, kind: str) -> None:
        self.offset = offset
        self.length = length
        self.prefix = prefix
        self.kind = kind


class Py2String(Record):
    """A protocol 0/1 STRING: Python 3 decodes it as ASCII text by default, or keeps bytes."""

    __slots__ = ("raw",)
    raw: Final[bytes]

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def text(self) -> str | None:
        try:
            return self.raw.decode("ascii")
        except UnicodeDecodeError:
            return None


class Op(NamedTuple):
    """One decoded opcode: its position in the stream, its name and its argument."""

    ordinal: int  # position of the opcode in its stream
    offset: int
    name: str
    arg: Any


class ByteSource:
    """A forward cursor over a Blob with a bounded read buffer; counts the bytes kept in memory."""

    def __init__(self, blob: Blob, start: int, limits: Limits) -> None:
        self.blob = blob
        self.size = blob.size
        self.pos = start
        self._limits = limits
        self._buf = b""
        self._buf_start = start
        self.materialised = 0

    @property
    def remaining(self) -> int:
        return self.size - self.pos

    def _refill(self) -> None:
        self._buf = self.blob.read_at(self.pos, _CHUNK)
        self._buf_start = self.pos

    def read(self, n: int) -> bytes:
        start = self.pos - self._buf_start
        end = start + n
        if start >= 0 and n >= 0 and end <= len(self._buf):  # fast path: inside the buffer
            self.pos += n
            return self._buf[start:end]
        if n < 0:
            raise StreamBreak("negative length", self.pos)
        if n > self.size - self.pos:
            raise StreamBreak(f"needs {n} bytes, {self.size - self.pos} left", self.pos, truncated=True)
        if n <= _CHUNK:
            self._refill()
            data = self._buf[:n]
        else:
            data = self.blob.read_at(self.pos, n)
        self.pos += n
        return data

    def byte(self) -> int:
        """One byte as an int (the opcode loop's hot path)."""
        index = self.pos - self._buf_start
        if 0 <= index < len(self._buf):
            self.pos += 1
            return self._buf[index]
        if self.pos >= self.size:
            raise StreamBreak("end of data", self.pos, truncated=True)
        self._refill()
        self.pos += 1
        return self._buf[0]

    def keep(self, n: int) -> None:
        """Account for `n` argument bytes held in memory (bounded by max_pickle_bytes)."""
        self.materialised += n
        if self.materialised > self._limits.max_pickle_bytes:
            raise LimitExceeded(
                f"pickle holds more than {self._limits.max_pickle_bytes} bytes of literals", self.pos
            )

    def skip(self, n: int) -> None:
        if n < 0 or n > self.size - self.pos:
            raise StreamBreak(f"needs {n} bytes, {self.size - self.pos} left", self.pos, truncated=True)
        self.pos += n

    def readline(self, max_len: int) -> bytes:
        """Bytes up to and excluding the next newline (which is consumed)."""
        start = self.pos
        parts: list[bytes] = []
        total = 0
        while True:
            if self.pos >= self.size:
                raise StreamBreak("line not terminated before the end of data", start, truncated=True)
            begin = self.pos - self._buf_start
            if not 0 <= begin < len(self._buf):
                self._refill()
                begin = 0
            cut = self._buf.find(b"\n", begin)
            piece = self._buf[begin:] if cut < 0 else self._buf[begin:cut]
            total += len(piece)
            if total > max_len:
                raise LimitExceeded(f"text argument longer than {max_len} bytes", start)
            parts.append(piece)
            if cut >= 0:
                self.pos += len(piece) + 1
                return b"".join(parts)
            self.pos += len(piece)


def _decimal(line: bytes, offset: int) -> int:
    text = line.decode("ascii", "replace").strip()
    for base in (10, 0):  # CPython tries strtol, then int(text, 0)
        try:
            return int(text, base)
        except ValueError:
            continue
    raise StreamBreak(f"invalid integer literal {text[:40]!r}", offset)


def _decode_utf8(raw: bytes, offset: int) -> str:
    try:
        return raw.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise StreamBreak("invalid UTF-8 in a text argument", offset) from None


def _quoted(line: bytes, offset: int) -> Py2String:
    if len(line) >= 2 and line[0] == line[-1] and line[:1] in (b"'", b'"'):
        try:
            return Py2String(codecs.escape_decode(line[1:-1])[0])
        except ValueError:
            raise StreamBreak("invalid escape in STRING", offset) from None
    raise StreamBreak("STRING argument is not quoted", offset)


class OpReader:
    """Decodes opcodes one by one; raises StreamBreak where CPython's unpickler would fail."""

    def __init__(self, src: ByteSource, limits: Limits) -> None:
        self.src = src
        self.limits = limits
        self.index = 0

    def next(self) -> Op:
        src = self.src
        offset = src.pos
        if offset >= src.size:
            raise StreamBreak("end of data before STOP", offset, truncated=True)
        code = src.byte()
        entry = _TABLE[code]
        if entry is None:
            raise StreamBreak(f"invalid opcode 0x{code:02x}", offset)
        name, decoder = entry
        arg = decoder(self, offset) if decoder is not None else None
        ordinal = self.index
        self.index = ordinal + 1
        return Op(ordinal, offset, name, arg)

    def line(self) -> bytes:
        return self.src.readline(self.limits.max_string_bytes)

    def payload(self, n: int, offset: int, kind: str) -> bytes | BigBytes:
        """A bytes argument: in memory when small, else left in the file as a BigBytes window."""
        src = self.src
        if n < 0:
            raise StreamBreak("negative length", offset)
        if n > src.size - src.pos:
            raise StreamBreak(f"argument of {n} bytes runs past the end", offset, truncated=True)
        if n > INLINE_BYTES:
            return self.window(n, kind)
        src.keep(n)
        return src.read(n)

    def window(self, n: int, kind: str) -> BigBytes:
        """Skip `n` bytes (already checked to be there), keeping where they are and a prefix."""
        src = self.src
        start = src.pos
        prefix = src.blob.read_at(start, BIG_BYTES_PREFIX)
        src.skip(n)
        return BigBytes(start, n, prefix, kind)

    def text(self, n: int, offset: int) -> str | BigBytes:
        """A str argument; above INLINE_BYTES it stays in the file (validated as UTF-8 in chunks)."""
        if n > self.src.size - self.src.pos:
            raise StreamBreak(f"string of {n} bytes runs past the end", offset, truncated=True)
        if n > INLINE_BYTES:
            self._validate_utf8(n, offset)
            return self.window(n, "str")
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(f"string of {n} bytes exceeds max_string_bytes", offset)
        self.src.keep(n)
        return _decode_utf8(self.src.read(n), offset)

    def _validate_utf8(self, n: int, offset: int) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        blob, start = self.src.blob, self.src.pos
        try:
            for chunk_start in range(0, n, _CHUNK):
                decoder.decode(blob.read_at(start + chunk_start, min(_CHUNK, n - chunk_start)))
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise StreamBreak("invalid UTF-8 in a text argument", offset) from None

    def exact(self, n: int, offset: int) -> bytes:
        if n < 0:
            raise StreamBreak("negative length", offset)
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(f"argument of {n} bytes exceeds max_string_bytes", offset)
        self.src.keep(n)
        return self.src.read(n)


_U2, _U4, _I4, _U8, _F8 = (struct.Struct(f) for f in ("<H", "<I", "<i", "<Q", ">d"))
Decoder = Callable[[OpReader, int], Any]


def _unpack(fmt: struct.Struct) -> Decoder:
    def decode(r: OpReader, offset: int) -> Any:
        return fmt.unpack(r.src.read(fmt.size))[0]

    return decode


def _decimal_short(r: OpReader, offset: int) -> int | bool:
    line = r.line()
    if line in (b"00", b"01"):
        return line == b"01"
    return _decimal(line, offset)


def _decimal_long(r: OpReader, offset: int) -> int:
    line = r.line()
    return _decimal(line[:-1] if line.endswith(b"L") else line, offset)


def _float_line(r: OpReader, offset: int) -> float:
    try:
        return float(r.line())
    except ValueError:
        raise StreamBreak("invalid float literal", offset) from None


def _long(width: int) -> Decoder:
    def decode(r: OpReader, offset: int) -> int:
        n = r.src.byte() if width == 1 else _I4.unpack(r.src.read(4))[0]
        if n < 0:
            raise StreamBreak("negative LONG4 length", offset)
        return int.from_bytes(r.exact(n, offset), "little", signed=True)

    return decode


def _sized_bytes(prefix: struct.Struct | None, kind: str) -> Decoder:
    def decode(r: OpReader, offset: int) -> bytes | BigBytes:
        n = r.src.byte() if prefix is None else prefix.unpack(r.src.read(prefix.size))[0]
        return r.payload(n, offset, kind)

    return decode


def _sized_text(prefix: struct.Struct | None) -> Decoder:
    def decode(r: OpReader, offset: int) -> str | BigBytes:
        n = r.src.byte() if prefix is None else prefix.unpack(r.src.read(prefix.size))[0]
        return r.text(n, offset)

    return decode


def _py2_string(prefix: struct.Struct | None) -> Decoder:
    def decode(r: OpReader, offset: int) -> Py2String | BigBytes:
        n = r.src.byte() if prefix is None else prefix.unpack(r.src.read(prefix.size))[0]
        if INLINE_BYTES < n <= r.src.size - r.src.pos:
            return r.window(n, "py2str")
        return Py2String(r.exact(n, offset))

    return decode


def _unicode_line(r: OpReader, offset: int) -> str:
    try:
        return r.line().decode("raw-unicode-escape")
    except UnicodeDecodeError:
        raise StreamBreak("invalid raw-unicode-escape text", offset) from None


def _global_pair(r: OpReader, offset: int) -> tuple[str, str]:
    module = _decode_utf8(r.line(), offset)
    return module, _decode_utf8(r.line(), offset)


_DECODERS: dict[str, Decoder] = {
    "uint1": lambda r, offset: r.src.byte(),
    "uint2": _unpack(_U2),
    "uint4": _unpack(_U4),
    "int4": _unpack(_I4),
    "uint8": _unpack(_U8),
    "float8": _unpack(_F8),
    "decimalnl_short": _decimal_short,
    "decimalnl_long": _decimal_long,
    "floatnl": _float_line,
    "long1": _long(1),
    "long4": _long(4),
    "stringnl": lambda r, offset: _quoted(r.line(), offset),
    "string1": _py2_string(None),
    "string4": _py2_string(_I4),
    "bytes1": _sized_bytes(None, "bytes"),
    "bytes4": _sized_bytes(_U4, "bytes"),
    "bytes8": _sized_bytes(_U8, "bytes"),
    "bytearray8": _sized_bytes(_U8, "bytearray"),
    "unicodestringnl": _unicode_line,
    "unicodestring1": _sized_text(None),
    "unicodestring4": _sized_text(_U4),
    "unicodestring8": _sized_text(_U8),
    "stringnl_noescape": lambda r, offset: r.line().decode("latin-1"),
    "stringnl_noescape_pair": _global_pair,
}
_TABLE: list[tuple[str, Decoder | None] | None] = [None] * 256
for _code, (_name, _kind) in OPCODES.items():
    _TABLE[_code] = (_name, _DECODERS[_kind] if _kind else None)
