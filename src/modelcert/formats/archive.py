"""Tar (streaming, via `tarfile`) and 7z (via py7zr) readers that hand out one member at a time.

Nothing is ever extracted to a path: member bytes go into SpooledBlobs sized by the caller's limits,
and names are reported as the archive spells them (the checks judge them). Both libraries raise a
zoo of exceptions on malformed input; each is turned into FormatError here so a corrupt archive is
unscannable, never an analyzer crash.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any, Final, Self

from modelcert.errors import FormatError, LimitExceeded, ModelcertError
from modelcert.formats.blob import Blob, SpooledBlob
from modelcert.limits import Limits
from modelcert.records import MutableRecord, Record

if TYPE_CHECKING:  # imported where a tar is read: it pulls in shutil, bz2, lzma (~4 ms)
    import tarfile

# GNU long names and pax records are read into memory by tarfile: real ones are a few hundred bytes.
MAX_TAR_EXTENDED_HEADER = 1024 * 1024
# What a malformed tar makes tarfile raise, besides tarfile.TarError.
_TAR_READ_ERRORS: tuple[type[BaseException], ...] = (
    EOFError, OSError, ValueError, OverflowError, UnicodeError, KeyError, IndexError,
)


class ArchiveMember(Record):
    """A member as its archive declares it. `kind`: file, dir, symlink, hardlink, chardev, blockdev, fifo."""

    __slots__ = ("after_end_marker", "kind", "linkname", "name", "offset", "size")
    name: Final[str]
    kind: Final[str]
    size: Final[int]
    linkname: Final[str]
    offset: Final[int | None]
    after_end_marker: Final[bool]  # only readers that ignore end-of-archive blocks see it

    def __init__(
        self,
        name: str,
        kind: str,
        size: int,
        linkname: str = "",
        offset: int | None = None,
        after_end_marker: bool = False,
    ) -> None:
        self.name = name
        self.kind = kind
        self.size = size
        self.linkname = linkname
        self.offset = offset
        self.after_end_marker = after_end_marker


class _TarState(MutableRecord):
    __slots__ = ("header_errors", "zero_block_seen")
    zero_block_seen: bool
    header_errors: list[str]

    def __init__(self, zero_block_seen: bool = False, header_errors: list[str] | None = None) -> None:
        self.zero_block_seen = zero_block_seen
        self.header_errors = [] if header_errors is None else header_errors


def _tarinfo_class(state: _TarState) -> type[tarfile.TarInfo]:
    """A TarInfo that records header problems and refuses oversized extended headers before tarfile
    reads them into memory. One class per read, so concurrent scans do not share state."""
    import tarfile

    extended_types = frozenset(
        {tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
         tarfile.SOLARIS_XHDTYPE}
    )

    class _GuardedTarInfo(tarfile.TarInfo):
        @classmethod
        def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
            try:
                return super().frombuf(buf, encoding, errors)
            except tarfile.HeaderError as exc:
                # tarfile's subclasses are not in the type stubs: tell them apart by name.
                kind = type(exc).__name__
                if kind == "EOFHeaderError":  # an all-zero block: an end-of-archive marker
                    state.zero_block_seen = True
                elif kind in ("InvalidHeaderError", "TruncatedHeaderError"):
                    state.header_errors.append(str(exc))
                raise

        def _proc_member(self, tarfile_obj: tarfile.TarFile) -> tarfile.TarInfo:
            if self.type in extended_types and self.size > MAX_TAR_EXTENDED_HEADER:
                raise LimitExceeded(
                    f"tar extended header of {self.size} bytes (limit {MAX_TAR_EXTENDED_HEADER})", self.offset
                )
            result: tarfile.TarInfo = super()._proc_member(tarfile_obj)  # type: ignore[misc]
            return result

    return _GuardedTarInfo


def _kind(info: tarfile.TarInfo) -> str:
    if info.issym():
        return "symlink"
    if info.islnk():
        return "hardlink"
    if info.isdir():
        return "dir"
    if info.ischr():
        return "chardev"
    if info.isblk():
        return "blockdev"
    if info.isfifo():
        return "fifo"
    return "file"  # regular, contiguous, sparse and unknown types are read as data, as tarfile does


class TarReader:
    """Iterate a tar stream once: (member, data stream or None). A data stream is valid until the next
    member. After iteration, `problems` lists header errors tarfile skipped over."""

    def __init__(self, stream: IO[bytes], limits: Limits) -> None:
        self._stream = stream
        self._limits = limits
        self._state = _TarState()
        self.count = 0

    @property
    def problems(self) -> list[str]:
        return list(self._state.header_errors)

    def __iter__(self) -> Iterator[tuple[ArchiveMember, IO[bytes] | None]]:
        import tarfile

        errors: tuple[type[BaseException], ...] = (tarfile.TarError, *_TAR_READ_ERRORS)
        try:
            # ignore_zeros: keep reading after an end-of-archive block, as `tar -i` would, so members
            # hidden behind it are seen (and reported as such).
            archive = tarfile.open(  # noqa: SIM115 - closed by the `with` below
                fileobj=self._stream, mode="r|", ignore_zeros=True, tarinfo=_tarinfo_class(self._state)
            )
        except ModelcertError:
            raise
        except errors as exc:
            raise FormatError(f"not a readable tar stream: {exc}") from exc
        with archive:
            while True:
                try:
                    info = archive.next()
                except ModelcertError:
                    raise
                except errors as exc:
                    raise FormatError(f"tar header after member {self.count}: {exc}") from exc
                if info is None:
                    return
                self.count += 1
                if self.count > self._limits.max_archive_members:
                    raise LimitExceeded(f"tar has more than {self._limits.max_archive_members} members")
                member = ArchiveMember(
                    name=info.name,
                    kind=_kind(info),
                    size=info.size,
                    linkname=info.linkname,
                    offset=info.offset,
                    after_end_marker=self._state.zero_block_seen,
                )
                raw = archive.extractfile(info) if member.kind == "file" else None
                yield member, (
                    io.BufferedReader(_MemberData(raw, member.name, errors)) if raw is not None else None
                )
                # tarfile in stream mode keeps every TarInfo; drop them, the checks kept what they need.
                members = getattr(archive, "members", None)
                if isinstance(members, list):
                    members.clear()


class _MemberData(io.RawIOBase):
    """A tar member's data stream whose read errors (truncation, bad sparse maps) are FormatErrors."""

    def __init__(self, raw: IO[bytes], name: str, errors: tuple[type[BaseException], ...]) -> None:
        self._raw = raw
        self._name = name
        self._errors = errors

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self._raw.read(len(buffer))
        except ModelcertError:
            raise
        except self._errors as exc:
            raise FormatError(f"{self._name}: member data unreadable: {exc}") from exc
        buffer[: len(data)] = data
        return len(data)


def copy_member(data: IO[bytes], name: str, declared: int, limits: Limits, budget: int) -> Blob:
    """Read one tar member's data into a blob, refusing more than `budget` bytes."""
    if declared > budget:
        raise LimitExceeded(f"{name}: {declared} bytes exceeds the unpack budget of {budget}")
    out = SpooledBlob(name, limits.in_memory_member_bytes)
    try:
        while True:
            chunk = data.read(limits.read_chunk_bytes)
            if not chunk:
                break
            out.write(chunk)
    except BaseException:
        out.close()
        raise
    if out.size < declared:
        out.close()
        raise FormatError(f"{name}: archive ends inside this member ({out.size} of {declared} bytes)")
    return out.finish()


TAR_BLOCK = 512


def looks_like_tar(block: bytes) -> bool:
    """A ustar/GNU magic, or a v7 header whose checksum is right (how tarfile recognises tar)."""
    if len(block) < TAR_BLOCK:
        return False
    if block[257:262] == b"ustar":
        return True
    field_ = block[148:156].split(b"\x00", 1)[0].strip()
    if not field_ or not field_.isdigit() or not block[:100].strip(b"\x00"):
        return False
    try:
        recorded = int(field_, 8)
    except ValueError:
        return False
    unsigned = sum(block[:148]) + 8 * 32 + sum(block[156:512])
    return recorded == unsigned


# --- 7z ---------------------------------------------------------------------------------------------


class SevenZipListing(Record):
    __slots__ = ("encrypted", "members", "packed_bytes", "unextractable")
    members: Final[tuple[ArchiveMember, ...]]
    encrypted: Final[bool]
    unextractable: Final[tuple[str, ...]]  # names py7zr refuses to map to a path (traversal, drive letters)
    packed_bytes: Final[int]

    def __init__(
        self,
        members: tuple[ArchiveMember, ...],
        encrypted: bool,
        unextractable: tuple[str, ...],
        packed_bytes: int,
    ) -> None:
        self.members = members
        self.encrypted = encrypted
        self.unextractable = unextractable
        self.packed_bytes = packed_bytes


MemberCallback = Callable[[ArchiveMember, Blob], None]


class SevenZipReader:
    """A 7z archive opened for listing, then extraction of its file members one at a time."""

    def __init__(self, blob: Blob, limits: Limits, budget: int) -> None:
        import py7zr

        self._limits = limits
        with _py7zr_errors():
            self._archive: Any = py7zr.SevenZipFile(blob.open(), mode="r", max_extract_size=budget)
        try:
            with _py7zr_errors():
                self.listing, self._targets = _list_7z(self._archive, limits, blob.size)
        except BaseException:
            self.close()
            raise

    def extract(self, on_member: MemberCallback) -> None:
        """Feed each extractable file/symlink member to `on_member` (its blob is closed afterwards)."""
        if self.listing.encrypted or not self._targets:
            return
        factory = _SpoolFactory(self.listing, self._targets, self._limits, on_member)
        with _py7zr_errors():
            self._archive.extract(targets=set(self._targets.values()), factory=factory)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._archive.close()

    def __enter__(self) -> SevenZipReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@contextlib.contextmanager
def _py7zr_errors() -> Iterator[None]:
    try:
        yield
    except ModelcertError:
        raise
    except Exception as exc:  # py7zr raises many exception types on malformed input
        raise FormatError(f"7z: {type(exc).__name__}: {str(exc)[:200]}") from exc


def _list_7z(archive: Any, limits: Limits, packed: int) -> tuple[SevenZipListing, dict[str, str]]:
    from py7zr.exceptions import Bad7zFile
    from py7zr.helpers import get_sanitized_output_path

    files = list(archive.files)
    if len(files) > limits.max_archive_members:
        raise LimitExceeded(f"7z has {len(files)} members (limit {limits.max_archive_members})")
    members: list[ArchiveMember] = []
    unextractable: list[str] = []
    names: list[str] = []
    for f in files:
        kind = "dir" if f.is_directory else "symlink" if f.is_symlink else "file"
        if getattr(f, "is_socket", False):
            kind = "fifo"
        members.append(ArchiveMember(name=str(f.filename), kind=kind, size=int(f.uncompressed or 0)))
        if kind in ("file", "symlink"):
            names.append(str(f.filename))
    # Replicate py7zr's naming of what it hands the factory (sanitised; duplicates get "_N").
    targets: dict[str, str] = {}
    seen: dict[str, int] = {}
    for name in names:
        try:
            get_sanitized_output_path(name, None)
        except Bad7zFile:
            if name not in unextractable:
                unextractable.append(name)
    good = [n for n in names if n not in unextractable]
    for name in good:
        if name not in seen:
            outname, seen[name] = name, 0
        else:
            outname = f"{name}_{seen[name]}"
            seen[name] += 1
        targets[get_sanitized_output_path(outname, None).as_posix()] = name
    listing = SevenZipListing(
        members=tuple(members),
        encrypted=bool(archive.needs_password()),
        unextractable=tuple(unextractable),
        packed_bytes=packed,
    )
    return listing, targets


class _SpoolWriter:
    """py7zr's Py7zIO protocol over a SpooledBlob; when py7zr closes it, the member is analysed."""

    def __init__(self, member: ArchiveMember, limits: Limits, on_member: MemberCallback) -> None:
        self._member = member
        self._limit = limits.max_member_bytes
        self._out = SpooledBlob(member.name, limits.in_memory_member_bytes)
        self._on_member = on_member
        self._done = False

    def write(self, s: bytes | bytearray) -> int:
        if self._out.size + len(s) > self._limit:
            raise LimitExceeded(f"{self._member.name}: member exceeds {self._limit} bytes")
        self._out.write(bytes(s))
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self._out.size

    def close(self) -> None:
        if self._done:
            return
        self._done = True
        blob = self._out.finish()
        try:
            self._on_member(self._member, blob)
        finally:
            blob.close()
            self._out.close()


class _SpoolFactory:
    def __init__(
        self, listing: SevenZipListing, targets: dict[str, str], limits: Limits, on_member: MemberCallback
    ) -> None:
        self._by_name = {m.name: m for m in listing.members}
        self._targets = targets
        self._limits = limits
        self._on_member = on_member

    def create(self, filename: str) -> _SpoolWriter:
        original = self._targets.get(filename, filename)
        member = self._by_name.get(original) or ArchiveMember(name=original, kind="file", size=0)
        return _SpoolWriter(member, self._limits, self._on_member)

