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
from dataclasses import dataclass
from typing import Any

from modelcert.errors import LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.limits import Limits

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


@dataclass(frozen=True)
class BigBytes:
    """A byte payload left in the file: where it is, how long, and its first bytes."""

    offset: int
    length: int
    prefix: bytes
    kind: str  # "bytes" or "bytearray"


@dataclass(frozen=True)
class Py2String:
    """A protocol 0/1 STRING: Python 3 decodes it as ASCII text by default, or keeps bytes."""

    raw: bytes

    def text(self) -> str | None:
        try:
            return self.raw.decode("ascii")
        except UnicodeDecodeError:
            return None


@dataclass(frozen=True)
class Op:
    """One decoded opcode: its position in the stream, its name and its argument."""

    index: int
    offset: int
    name: str
    arg: Any


class ByteSource:
    """A forward cursor over a Blob with a bounded read buffer; counts the bytes kept in memory."""

    def __init__(self, blob: Blob, start: int, limits: Limits) -> None:
        self.blob = blob
        self.pos = start
        self._limits = limits
        self._buf = b""
        self._buf_start = start
        self.materialised = 0

    @property
    def remaining(self) -> int:
        return self.blob.size - self.pos

    def _fill(self, need: int) -> None:
        offset_in_buf = self.pos - self._buf_start
        if offset_in_buf >= 0 and offset_in_buf + need <= len(self._buf):
            return
        want = max(need, _CHUNK)
        self._buf = self.blob.read_at(self.pos, want)
        self._buf_start = self.pos

    def read(self, n: int) -> bytes:
        if n < 0:
            raise StreamBreak("negative length", self.pos)
        if n > self.remaining:
            raise StreamBreak(f"needs {n} bytes, {self.remaining} left", self.pos, truncated=True)
        if n <= _CHUNK:
            self._fill(n)
            start = self.pos - self._buf_start
            data = self._buf[start : start + n]
        else:
            data = self.blob.read_at(self.pos, n)
        self.pos += n
        return data

    def keep(self, n: int) -> None:
        """Account for `n` argument bytes held in memory (bounded by max_pickle_bytes)."""
        self.materialised += n
        if self.materialised > self._limits.max_pickle_bytes:
            raise LimitExceeded(
                f"pickle holds more than {self._limits.max_pickle_bytes} bytes of literals", self.pos
            )

    def skip(self, n: int) -> None:
        if n > self.remaining:
            raise StreamBreak(f"needs {n} bytes, {self.remaining} left", self.pos, truncated=True)
        self.pos += n

    def readline(self, max_len: int) -> bytes:
        """Bytes up to and excluding the next newline (which is consumed)."""
        start = self.pos
        parts: list[bytes] = []
        total = 0
        while True:
            if not self.remaining:
                raise StreamBreak("line not terminated before the end of data", start, truncated=True)
            self._fill(1)
            begin = self.pos - self._buf_start
            chunk = self._buf[begin:]
            cut = chunk.find(b"\n")
            piece = chunk if cut < 0 else chunk[:cut]
            total += len(piece)
            if total > max_len:
                raise LimitExceeded(f"text argument longer than {max_len} bytes", start)
            parts.append(piece)
            if cut >= 0:
                self.pos += cut + 1
                return b"".join(parts)
            self.pos += len(chunk)


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
        if not src.remaining:
            raise StreamBreak("end of data before STOP", offset, truncated=True)
        code = src.read(1)[0]
        entry = OPCODES.get(code)
        if entry is None:
            raise StreamBreak(f"invalid opcode 0x{code:02x}", offset)
        name, kind = entry
        arg = self._argument(kind, offset) if kind else None
        op = Op(self.index, offset, name, arg)
        self.index += 1
        return op

    def _line(self) -> bytes:
        return self.src.readline(self.limits.max_string_bytes)

    def _sized(self, fmt: str, width: int) -> int:
        value: int = struct.unpack(fmt, self.src.read(width))[0]
        return value

    def _payload(self, n: int, offset: int, kind: str) -> bytes | BigBytes:
        if n < 0:
            raise StreamBreak("negative length", offset)
        if n > self.src.remaining:
            raise StreamBreak(f"argument of {n} bytes runs past the end", offset, truncated=True)
        if n > INLINE_BYTES:
            start = self.src.pos
            prefix = self.src.blob.read_at(start, BIG_BYTES_PREFIX)
            self.src.skip(n)
            return BigBytes(start, n, prefix, kind)
        self.src.keep(n)
        return self.src.read(n)

    def _text(self, n: int, offset: int) -> str:
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(f"string of {n} bytes exceeds max_string_bytes", offset)
        if n > self.src.remaining:
            raise StreamBreak(f"string of {n} bytes runs past the end", offset, truncated=True)
        self.src.keep(n)
        return _decode_utf8(self.src.read(n), offset)

    def _argument(self, kind: str, offset: int) -> Any:
        src = self.src
        if kind == "uint1":
            return src.read(1)[0]
        if kind == "uint2":
            return self._sized("<H", 2)
        if kind == "uint4":
            return self._sized("<I", 4)
        if kind == "int4":
            return self._sized("<i", 4)
        if kind == "uint8":
            return self._sized("<Q", 8)
        if kind == "float8":
            return self._sized_float()
        if kind == "decimalnl_short":
            line = self._line()
            if line in (b"00", b"01"):
                return line == b"01"
            return _decimal(line, offset)
        if kind == "decimalnl_long":
            line = self._line()
            return _decimal(line[:-1] if line.endswith(b"L") else line, offset)
        if kind == "floatnl":
            try:
                return float(self._line())
            except ValueError:
                raise StreamBreak("invalid float literal", offset) from None
        if kind in ("long1", "long4"):
            n = src.read(1)[0] if kind == "long1" else self._sized("<i", 4)
            if n < 0:
                raise StreamBreak("negative LONG4 length", offset)
            if n > self.limits.max_string_bytes:
                raise LimitExceeded(f"integer of {n} bytes", offset)
            src.keep(n)
            return int.from_bytes(src.read(n), "little", signed=True)
        if kind == "stringnl":
            return _quoted(self._line(), offset)
        if kind == "string1":
            return Py2String(self._bytes_exact(src.read(1)[0]))
        if kind == "string4":
            return Py2String(self._bytes_exact(self._sized("<i", 4), offset))
        if kind == "bytes1":
            return self._payload(src.read(1)[0], offset, "bytes")
        if kind == "bytes4":
            return self._payload(self._sized("<I", 4), offset, "bytes")
        if kind == "bytes8":
            return self._payload(self._sized("<Q", 8), offset, "bytes")
        if kind == "bytearray8":
            return self._payload(self._sized("<Q", 8), offset, "bytearray")
        if kind == "unicodestringnl":
            try:
                return self._line().decode("raw-unicode-escape")
            except UnicodeDecodeError:
                raise StreamBreak("invalid raw-unicode-escape text", offset) from None
        if kind == "unicodestring1":
            return self._text(src.read(1)[0], offset)
        if kind == "unicodestring4":
            return self._text(self._sized("<I", 4), offset)
        if kind == "unicodestring8":
            return self._text(self._sized("<Q", 8), offset)
        if kind == "stringnl_noescape":
            return self._line().decode("latin-1")
        if kind == "stringnl_noescape_pair":
            module = _decode_utf8(self._line(), offset)
            return module, _decode_utf8(self._line(), offset)
        raise StreamBreak(f"unsupported argument kind {kind}", offset)  # pragma: no cover - table is fixed

    def _sized_float(self) -> float:
        value: float = struct.unpack(">d", self.src.read(8))[0]
        return value

    def _bytes_exact(self, n: int, offset: int | None = None) -> bytes:
        if n < 0:
            raise StreamBreak("negative BINSTRING length", offset if offset is not None else self.src.pos)
        if n > self.limits.max_string_bytes:
            raise LimitExceeded(f"string of {n} bytes exceeds max_string_bytes", offset)
        self.src.keep(n)
        return self.src.read(n)
