"""Bounded streaming decompression: gzip, bzip2, xz, zstd, lz4 and the zip methods.

Every codec is driven through `max_length`-bounded calls, so one small input chunk can never expand
into an unbounded buffer, and the total output is capped by the caller's budget: crossing it raises
`DecompressionBomb`. Concatenated streams (multi-member gzip, multi-stream bzip2/xz, several zstd or
lz4 frames) are read the way their command-line tools read them; bytes after the last stream that are
not another stream are left for the caller as `trailing_offset` (hidden data or zero padding).
"""

from __future__ import annotations

import bz2
import importlib
import io
import lzma
import zlib
from collections.abc import Callable
from typing import IO, Any, Protocol

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob, SpooledBlob
from modelcert.limits import Limits

CHUNK = 256 * 1024

# Zip compression methods this reader supports (others make the member unscannable).
ZIP_STORED = 0
ZIP_DEFLATED = 8
ZIP_BZIP2 = 12
ZIP_ZSTD = 93
ZIP_METHOD_NAMES = {
    0: "stored", 1: "shrunk", 6: "imploded", 8: "deflate", 9: "deflate64", 12: "bzip2", 14: "lzma",
    93: "zstd", 95: "xz", 98: "ppmd", 99: "aes-encrypted",
}

STREAM_MAGIC = {
    "gzip": b"\x1f\x8b",
    "bzip2": b"BZh",
    "xz": b"\xfd7zXZ\x00",
    "zstd": b"\x28\xb5\x2f\xfd",
    "lz4": b"\x04\x22\x4d\x18",
}


class DecompressionBomb(LimitExceeded):
    """Output grew beyond the size or compression-ratio budget."""


class _Decoder(Protocol):
    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    @property
    def needs_input(self) -> bool: ...

    def decompress(self, data: bytes, max_length: int) -> bytes: ...


class _ZlibDecoder:
    """zlib's decompressobj keeps unconsumed input in `unconsumed_tail`; present it like bz2/lzma."""

    def __init__(self, wbits: int) -> None:
        self._obj = zlib.decompressobj(wbits)
        self._tail = b""

    @property
    def eof(self) -> bool:
        return self._obj.eof

    @property
    def unused_data(self) -> bytes:
        return self._obj.unused_data

    @property
    def needs_input(self) -> bool:
        return not self._tail

    def decompress(self, data: bytes, max_length: int) -> bytes:
        buf = self._tail + data if self._tail else data
        out = self._obj.decompress(buf, max_length)
        self._tail = self._obj.unconsumed_tail
        return out


class _Lz4Decoder:
    def __init__(self) -> None:
        try:
            # optional dependency, only needed for .lz4 input
            frame: Any = importlib.import_module("lz4.frame")
        except ImportError as exc:
            raise FormatError("lz4 input needs the 'lz4' package, which is not installed") from exc
        self._obj: Any = frame.LZ4FrameDecompressor()

    @property
    def eof(self) -> bool:
        return bool(self._obj.eof)

    @property
    def unused_data(self) -> bytes:
        return bytes(self._obj.unused_data or b"")

    @property
    def needs_input(self) -> bool:
        return bool(self._obj.needs_input)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        try:
            return bytes(self._obj.decompress(data, max_length=max_length))
        except RuntimeError as exc:  # lz4.frame reports corrupt frames as RuntimeError
            raise ValueError(f"lz4: {exc}") from exc


def _bz2() -> _Decoder:
    return bz2.BZ2Decompressor()


def _xz() -> _Decoder:
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ)


DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gzip": lambda: _ZlibDecoder(31),
    "bzip2": _bz2,
    "xz": _xz,
    "lz4": _Lz4Decoder,
    "deflate": lambda: _ZlibDecoder(-15),
    # joblib's compress="zlib" and compress="lzma" write a bare zlib stream / an LZMA-alone stream
    "zlib": lambda: _ZlibDecoder(15),
    "lzma": lambda: lzma.LZMADecompressor(format=lzma.FORMAT_ALONE),
}
# Codecs whose streams may follow one another in one file (read as one output by their tools).
MULTI_STREAM = frozenset({"gzip", "bzip2", "xz", "lz4"})
_CODEC_ERRORS: tuple[type[BaseException], ...] = (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError)


class DecompressingReader(io.RawIOBase):
    """A readable stream of the decompressed bytes of `source` (a compressed Blob)."""

    def __init__(self, source: Blob, codec: str, max_output: int) -> None:
        self._source = source
        self._codec = codec
        self._max_output = max_output
        self.output_bytes = 0
        self.trailing_offset: int | None = None  # where non-stream bytes follow the last stream
        self._done = False
        self._src_pos = 0
        self._pending = b""  # compressed bytes read but not yet given to a decoder
        self._zstd: Any = None
        if codec == "zstd":
            end = zstd_frames_end(source)
            if end < source.size:
                self.trailing_offset = end
            self._zstd = _zstd_reader(source.window(0, end, source.name))
            self._decoder: _Decoder | None = None
        elif codec in DECODERS:
            self._decoder = DECODERS[codec]()
        else:
            raise FormatError(f"unsupported compression {codec!r}")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        if want == 0 or self._done:
            return 0
        try:
            data = self._read_zstd(want) if self._zstd is not None else self._read_codec(want)
        except _CODEC_ERRORS as exc:
            raise FormatError(f"{self._codec} stream is corrupt: {exc}") from exc
        except _zstd_error() as exc:
            raise FormatError(f"zstd stream is corrupt: {exc}") from exc
        n = len(data)
        if n == 0:
            self._done = True
            return 0
        self.output_bytes += n
        if self.output_bytes > self._max_output:
            raise DecompressionBomb(
                f"{self._source.name}: {self._codec} output exceeds {self._max_output} bytes "
                f"from {self._source.size} compressed"
            )
        buffer[:n] = data
        return n

    def _read_zstd(self, want: int) -> bytes:
        return bytes(self._zstd.read(want))

    def _next_input(self) -> bytes:
        if self._pending:
            data, self._pending = self._pending, b""
            return data
        data = self._source.read_at(self._src_pos, CHUNK)
        self._src_pos += len(data)
        return data

    def _read_codec(self, want: int) -> bytes:
        decoder = self._decoder
        while decoder is not None:
            if decoder.eof:
                decoder = self._next_stream(decoder)
                continue
            data = self._next_input() if decoder.needs_input else b""
            out = decoder.decompress(data, want)
            if out:
                return out
            if not data and decoder.needs_input and not decoder.eof:
                raise FormatError(f"{self._codec} stream is truncated (ends before its end marker)")
        return b""

    def _next_stream(self, finished: _Decoder) -> _Decoder | None:
        """After one stream ends: start the next concatenated one, or note where foreign bytes begin."""
        rest = finished.unused_data + self._pending
        self._pending = b""
        magic = STREAM_MAGIC.get(self._codec, b"")
        if self._codec in MULTI_STREAM:
            if len(rest) < len(magic):
                rest += self._source.read_at(self._src_pos, len(magic))
                self._src_pos = min(self._source.size, self._src_pos + len(magic))
            if rest.startswith(magic):
                self._pending = rest
                self._decoder = DECODERS[self._codec]()
                return self._decoder
        unread_from = self._src_pos - len(rest)
        if unread_from < self._source.size:
            self.trailing_offset = unread_from
        self._decoder = None
        return None


def _zstd_reader(source: Blob) -> Any:
    import zstandard

    return zstandard.ZstdDecompressor().stream_reader(source.open(), read_size=CHUNK, read_across_frames=True)


_ZSTD_MAGIC = 0xFD2FB528
_ZSTD_MAX_FRAMES = 1_000_000


def zstd_frames_end(blob: Blob) -> int:
    """Where the last complete zstd frame ends, found by walking frame and block headers (3 bytes per
    block of up to 128 KiB). zstandard's stream reader stops silently at a cut frame, so truncation
    is detected here: a frame that runs past the end of the blob is a FormatError."""
    pos = 0
    for _ in range(_ZSTD_MAX_FRAMES):
        magic = blob.read_at(pos, 4)
        if len(magic) < 4:
            return pos
        number = int.from_bytes(magic, "little")
        if 0x184D2A50 <= number <= 0x184D2A5F:  # skippable frame: magic, 4-byte size, payload
            size = int.from_bytes(blob.read_at(pos + 4, 4), "little")
            end = pos + 8 + size
        elif number == _ZSTD_MAGIC:
            end = _zstd_frame_end(blob, pos)
        else:
            return pos  # not a frame: trailing bytes for the caller to judge
        if end > blob.size:
            raise FormatError("zstd stream is truncated (a frame runs past the end)", pos)
        pos = end
    raise LimitExceeded(f"more than {_ZSTD_MAX_FRAMES} zstd frames")


def _zstd_frame_end(blob: Blob, start: int) -> int:
    header = blob.read_at(start + 4, 1)
    if not header:
        raise FormatError("zstd stream is truncated (no frame header)", start)
    fhd = header[0]
    single_segment = bool(fhd & 0x20)
    fcs_size = (1 if single_segment else 0, 2, 4, 8)[fhd >> 6]
    pos = start + 5 + (0 if single_segment else 1) + (0, 1, 2, 4)[fhd & 0x3] + fcs_size
    while True:
        raw = blob.read_at(pos, 3)
        if len(raw) < 3:
            raise FormatError("zstd stream is truncated (cut inside a frame)", pos)
        block = int.from_bytes(raw, "little")
        kind, size = (block >> 1) & 0x3, block >> 3
        if kind == 3:
            raise FormatError("zstd block of reserved type", pos)
        pos += 3 + (1 if kind == 1 else size)
        if block & 1:
            return pos + (4 if fhd & 0x4 else 0)
        if pos > blob.size:
            raise FormatError("zstd stream is truncated (cut inside a block)", pos)


def _zstd_error() -> type[BaseException]:
    try:
        import zstandard
    except ImportError:  # pragma: no cover - zstandard is a dependency
        return FormatError
    error: type[BaseException] = zstandard.ZstdError
    return error


def output_budget(compressed_size: int, limits: Limits, remaining_total: int) -> int:
    """How many bytes a stream of `compressed_size` may expand to before it counts as a bomb."""
    by_ratio = max(compressed_size * limits.max_compression_ratio, limits.compression_ratio_min_bytes)
    return max(0, min(limits.max_member_bytes, by_ratio, remaining_total))


def spool(stream: IO[bytes] | io.RawIOBase, name: str, limits: Limits) -> tuple[Blob, int]:
    """Copy a stream into a SpooledBlob (memory, then a temp file); return it and the CRC-32 of its bytes."""
    out = SpooledBlob(name, limits.in_memory_member_bytes)
    crc = 0
    try:
        while True:
            chunk = stream.read(limits.read_chunk_bytes)
            if not chunk:
                break
            crc = zlib.crc32(chunk, crc)
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    return out.finish(), crc


def crc_of(blob: Blob, chunk: int) -> int:
    crc = 0
    for offset in range(0, blob.size, chunk):
        crc = zlib.crc32(blob.read_at(offset, chunk), crc)
    return crc


def zip_codec(method: int) -> str | None:
    """The decoder for a zip compression method, None when unsupported."""
    return {ZIP_DEFLATED: "deflate", ZIP_BZIP2: "bzip2", ZIP_ZSTD: "zstd"}.get(method)
