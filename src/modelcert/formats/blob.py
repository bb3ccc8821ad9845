"""Random-access, read-only views of bytes: a whole file, an in-memory buffer, or a window of another blob.

Readers get a Blob, never a path, so archive members and files on disk are read the same way and
large members are windows over their container instead of copies.
"""

from __future__ import annotations

import contextlib
import io
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

from modelcert.errors import LimitExceeded


class Blob(ABC):
    """A finite, immutable sequence of bytes with a name (its path or member name)."""

    name: str
    size: int

    @abstractmethod
    def read_at(self, offset: int, length: int) -> bytes:
        """Up to `length` bytes from `offset` (fewer only at the end)."""

    def head(self, length: int = 4096) -> bytes:
        return self.read_at(0, min(length, self.size))

    def tail(self, length: int) -> bytes:
        start = max(0, self.size - length)
        return self.read_at(start, self.size - start)

    def read_all(self, limit: int) -> bytes:
        """The whole content, refusing anything larger than `limit`."""
        if self.size > limit:
            raise LimitExceeded(f"{self.name}: {self.size} bytes exceeds the in-memory limit of {limit}")
        return self.read_at(0, self.size)

    def open(self) -> BinaryIO:
        """A fresh seekable stream positioned at 0 (independent of other streams)."""
        return io.BufferedReader(_BlobRawIO(self), buffer_size=1024 * 1024)

    def window(self, offset: int, length: int, name: str) -> Blob:
        return SliceBlob(self, offset, length, name)

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources (temp files); default does nothing."""


class BytesBlob(Blob):
    def __init__(self, data: bytes, name: str) -> None:
        self._data = data
        self.name = name
        self.size = len(data)

    @property
    def data(self) -> bytes:
        return self._data

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        return self._data[offset : offset + length]

    def read_all(self, limit: int) -> bytes:
        if self.size > limit:
            raise LimitExceeded(f"{self.name}: {self.size} bytes exceeds the in-memory limit of {limit}")
        return self._data

    def open(self) -> BinaryIO:
        return io.BytesIO(self._data)


class FileBlob(Blob):
    """A file on disk read with pread, so several readers and threads can share one descriptor."""

    def __init__(self, path: Path, name: str, size: int | None = None) -> None:
        self.path = path
        self.name = name
        self._fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        self.size = size if size is not None else os.fstat(self._fd).st_size

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        length = max(0, min(length, self.size - offset))
        if length == 0:
            return b""
        chunks = []
        while length > 0:
            chunk = os.pread(self._fd, min(length, 64 * 1024 * 1024), offset)
            if not chunk:
                break
            chunks.append(chunk)
            offset += len(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __del__(self) -> None:
        with contextlib.suppress(OSError):
            self.close()


class SliceBlob(Blob):
    """A window [offset, offset+length) of another blob, e.g. a stored zip member."""

    def __init__(self, parent: Blob, offset: int, length: int, name: str) -> None:
        if offset < 0 or length < 0 or offset + length > parent.size:
            raise LimitExceeded(f"{name}: window {offset}+{length} outside its container of {parent.size}")
        self._parent = parent
        self._offset = offset
        self.name = name
        self.size = length

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0:
            raise ValueError("negative offset or length")
        length = max(0, min(length, self.size - offset))
        return self._parent.read_at(self._offset + offset, length)


class SpooledBlob(Blob):
    """Bytes produced by decompression: kept in memory when small, in a temp file when large."""

    def __init__(self, name: str, in_memory_limit: int) -> None:
        self.name = name
        self.size = 0
        self._limit = in_memory_limit
        self._buffer: io.BytesIO | None = io.BytesIO()
        self._file: BinaryIO | None = None

    def write(self, data: bytes) -> None:
        if self._buffer is not None and self._buffer.tell() + len(data) > self._limit:
            import tempfile  # rarely needed: keep it off the start-up path

            self._file = tempfile.TemporaryFile(prefix="modelcert-")  # noqa: SIM115 - closed in close()
            self._file.write(self._buffer.getvalue())
            self._buffer = None
        target = self._buffer if self._buffer is not None else self._file
        assert target is not None
        target.write(data)
        self.size += len(data)

    def finish(self) -> Blob:
        """The finished content as a plain blob (bytes, or this temp-file backed blob)."""
        if self._buffer is not None:
            return BytesBlob(self._buffer.getvalue(), self.name)
        return self

    def read_at(self, offset: int, length: int) -> bytes:
        if self._buffer is not None:
            return self._buffer.getvalue()[offset : offset + length]
        assert self._file is not None
        return os.pread(self._file.fileno(), max(0, min(length, self.size - offset)), offset)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _BlobRawIO(io.RawIOBase):
    def __init__(self, blob: Blob) -> None:
        self._blob = blob
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._blob.size + offset
        else:
            raise ValueError(f"bad whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        data = self._blob.read_at(self._pos, len(buffer)) if self._pos < self._blob.size else b""
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n
