"""Builders for container test inputs: zips with every header quirk, PyTorch/TorchScript archives, tars
with hostile members, compressed wrappers, 7z, .npy files and bombs. Payloads are harmless command
strings; nothing here is ever executed or unpickled."""

from __future__ import annotations

import bz2
import functools
import gzip
import io
import lzma
import pickle
import struct
import tarfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import py7zr
import zstandard

from modelcert.checks.registry import analyzer_for
from modelcert.findings import ArtifactReport
from modelcert.formats.blob import BytesBlob
from modelcert.limits import DEFAULT_LIMITS, Limits
from modelcert.scan import scan_blob

CMD = "echo modelcert-test"


# --- pickles ------------------------------------------------------------------------------------------


def malicious_pickle(cmd: str = CMD) -> bytes:
    """Protocol 2 opcodes for `os.system(cmd)`: GLOBAL, a one-tuple, REDUCE. Never loaded."""
    arg = cmd.encode()
    return (
        b"\x80\x02cos\nsystem\nq\x00X" + struct.pack("<I", len(arg)) + arg + b"\x85q\x01Rq\x02."
    )


def benign_pickle() -> bytes:
    return pickle.dumps({"weight": [1.0, 2.0], "step": 3}, protocol=2)


# --- zip ----------------------------------------------------------------------------------------------


@dataclass
class ZipMember:
    """One member and the ways its headers may lie."""

    name: str
    data: bytes
    method: int = 0  # 0 stored, 8 deflate, 12 bzip2
    local_name: str | None = None  # differs from `name` for CVE-2025-1944
    flags: int = 0  # also written to the local header
    crc: int | None = None  # override (CVE-2025-10156)
    declared_size: int | None = None  # override of the uncompressed size in both headers
    raw: bytes | None = None  # pre-compressed bytes (bombs)
    external_attr: int = 0
    create_system: int = 3
    descriptor: bool = False


@dataclass
class ZipExtras:
    prefix: bytes = b""  # bytes before the first local header
    gap: bytes = b""  # bytes between the last member and the central directory
    trailing: bytes = b""  # bytes after the end record
    comment: bytes = b""
    aliases: list[tuple[str, int]] = field(default_factory=list)  # extra central entries → member i's data
    relative_offsets: bool = False  # offsets ignore the prefix (`cat stub archive.zip`: zipfile copes)
    omit_central: bool = False


def _compress(member: ZipMember) -> bytes:
    if member.raw is not None:
        return member.raw
    if member.method == 0:
        return member.data
    if member.method == 8:
        co = zlib.compressobj(6, zlib.DEFLATED, -15)
        return co.compress(member.data) + co.flush()
    if member.method == 12:
        return bz2.compress(member.data)
    raise ValueError(f"builder cannot compress method {member.method}")


def build_zip(members: Iterable[ZipMember], extras: ZipExtras | None = None) -> bytes:
    extras = extras or ZipExtras()
    out = io.BytesIO()
    out.write(extras.prefix)
    records: list[tuple[ZipMember, int, int, bytes, int]] = []
    for m in members:
        body = _compress(m)
        crc = m.crc if m.crc is not None else zlib.crc32(m.data)
        size = m.declared_size if m.declared_size is not None else len(m.data)
        offset = out.tell()
        local_name = (m.local_name if m.local_name is not None else m.name).encode()
        flags = m.flags | (0x8 if m.descriptor else 0)
        lcrc, lcsize, lusize = (0, 0, 0) if m.descriptor else (crc, len(body), size)
        out.write(b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", 20, flags, m.method, 0, 0x21, lcrc, lcsize,
                                              lusize, len(local_name), 0))
        out.write(local_name)
        out.write(body)
        if m.descriptor:
            out.write(b"PK\x07\x08" + struct.pack("<III", crc, len(body), size))
        records.append((m, offset, crc, body, size))
    out.write(extras.gap)
    shift = len(extras.prefix) if extras.relative_offsets else 0
    cd_start = out.tell()
    count = 0
    if not extras.omit_central:
        entries = [(m.name, m, off, crc, body, size) for (m, off, crc, body, size) in records]
        for alias, index in extras.aliases:
            m, off, crc, body, size = records[index]
            entries.append((alias, m, off, crc, body, size))
        for name, m, off, crc, body, size in entries:
            raw_name = name.encode()
            flags = m.flags | (0x8 if m.descriptor else 0)
            header_offset = off - shift
            out.write(b"PK\x01\x02" + struct.pack(
                "<HHHHHHIIIHHHHHII", (m.create_system << 8) | 20, 20, flags, m.method, 0, 0x21, crc,
                len(body), size, len(raw_name), 0, 0, 0, 0, m.external_attr, header_offset,
            ))
            out.write(raw_name)
            count += 1
        cd_size = out.tell() - cd_start
        cd_offset = cd_start - shift
        out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, count, count, cd_size, cd_offset,
                                              len(extras.comment)))
        out.write(extras.comment)
    out.write(extras.trailing)
    return out.getvalue()


def stored(name: str, data: bytes, **kw: object) -> ZipMember:
    return ZipMember(name, data, **kw)  # type: ignore[arg-type]


def deflated(name: str, data: bytes, **kw: object) -> ZipMember:
    return ZipMember(name, data, method=8, **kw)  # type: ignore[arg-type]


SYMLINK_ATTR = (0o120777 << 16)


# --- PyTorch / TorchScript -------------------------------------------------------------------------


def torch_members(pickle_bytes: bytes, prefix: str = "archive", **data_pkl: object) -> list[ZipMember]:
    """The records torch.save writes, with `data_pkl` overriding fields of the data.pkl member."""
    return [
        ZipMember(f"{prefix}/data.pkl", pickle_bytes, **data_pkl),  # type: ignore[arg-type]
        ZipMember(f"{prefix}/byteorder", b"little"),
        ZipMember(f"{prefix}/data/0", struct.pack("<6f", 0.5, -1.0, 2.0, 3.5, 0.25, 1.0)),
        # tensor bytes that happen to start like a pickle
        ZipMember(f"{prefix}/data/1", b"\x80\x02" + bytes(range(2, 200))),
        ZipMember(f"{prefix}/version", b"3\n"),
        ZipMember(f"{prefix}/.data/serialization_id", b"1234567890123456789012345678901234567890"),
    ]


def torch_zip(
    pickle_bytes: bytes, prefix: str = "archive", extras: ZipExtras | None = None, **data_pkl: object
) -> bytes:
    return build_zip(torch_members(pickle_bytes, prefix, **data_pkl), extras)


BENIGN_TORCHSCRIPT = """\
class Net(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  l : __torch__.torch.nn.modules.linear.Linear
  def forward(self: __torch__.Net,
    x: Tensor) -> Tensor:
    l = self.l
    _0 = torch.mul(torch.relu((l).forward(x, )), CONSTANTS.c0)
    return _0
"""


def torchscript_zip(code: str, prefix: str = "archive", extra_code: dict[str, str] | None = None) -> bytes:
    """A hand-built TorchScript archive (the layout torch.jit.save writes) around `code`."""
    members = [
        ZipMember(f"{prefix}/data.pkl", benign_pickle()),
        ZipMember(f"{prefix}/code/__torch__.py", code.encode(), method=8),
        ZipMember(f"{prefix}/constants.pkl", pickle.dumps((), protocol=2)),
        ZipMember(f"{prefix}/version", b"10\n"),
    ]
    for path, text in (extra_code or {}).items():
        members.append(ZipMember(f"{prefix}/code/{path}", text.encode(), method=8))
    return build_zip(members)


# --- bombs --------------------------------------------------------------------------------------------


@functools.cache
def _zero_mib_block() -> bytes:
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    return co.compress(b"\0" * (1 << 20)) + co.flush(zlib.Z_FULL_FLUSH)


def deflate_zeros(size: int) -> bytes:
    """Raw deflate of `size` zero bytes (a multiple of 1 MiB), built from one repeated flushed block so
    that a GiB costs milliseconds."""
    assert size % (1 << 20) == 0
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()  # an empty final block
    return _zero_mib_block() * (size >> 20) + final


def zip_bomb(size: int = 1 << 30, declared_size: int | None = None) -> bytes:
    """A zip holding `size` zero bytes deflated (declared honestly unless told otherwise)."""
    raw = deflate_zeros(size)
    return build_zip([ZipMember("zeros.bin", b"", method=8, raw=raw, crc=0,
                                declared_size=size if declared_size is None else declared_size)])


def nested_zips(depth: int, inner: bytes, inner_name: str = "payload.pkl") -> bytes:
    data, name = inner, inner_name
    for level in range(depth):
        data, name = build_zip([stored(name, data)]), f"level{level}.zip"
    return data


# --- tar / compressed streams / 7z ---------------------------------------------------------------------


@dataclass
class TarEntry:
    name: str
    data: bytes = b""
    kind: bytes = tarfile.REGTYPE
    linkname: str = ""


def build_tar(entries: Iterable[TarEntry], *, fmt: int = tarfile.GNU_FORMAT, after_end: bytes = b"") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = e.kind
            info.linkname = e.linkname
            info.mode = 0o644
            if e.kind in (tarfile.REGTYPE, tarfile.AREGTYPE):
                info.size = len(e.data)
                tar.addfile(info, io.BytesIO(e.data))
            else:
                tar.addfile(info)
    return out.getvalue() + after_end


def compress(data: bytes, codec: str) -> bytes:
    if codec == "gzip":
        return gzip.compress(data, mtime=0)
    if codec == "bzip2":
        return bz2.compress(data)
    if codec == "xz":
        return lzma.compress(data, format=lzma.FORMAT_XZ)
    if codec == "zstd":
        return bytes(zstandard.ZstdCompressor().compress(data))
    if codec == "lz4":
        import lz4.frame

        return bytes(lz4.frame.compress(data))
    raise ValueError(codec)


def build_7z_renamed(members: dict[str, bytes], renames: dict[str, str]) -> bytes:
    """A 7z whose member names are patched after writing (py7zr refuses to write `../` names):
    plain headers, each rename the same length, header CRCs recomputed."""
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as archive:
        archive.set_encoded_header_mode(False)
        for name, data in members.items():
            archive.writestr(data, name)
    raw = bytearray(out.getvalue())
    for old, new in renames.items():
        assert len(old) == len(new)
        raw = bytearray(raw.replace(old.encode("utf-16-le"), new.encode("utf-16-le")))
    offset, size = struct.unpack_from("<QQ", raw, 12)
    raw[28:32] = struct.pack("<I", zlib.crc32(raw[32 + offset : 32 + offset + size]))
    raw[8:12] = struct.pack("<I", zlib.crc32(raw[12:32]))
    return bytes(raw)


def build_7z(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with py7zr.SevenZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(data, name)
    return out.getvalue()


# --- numpy ---------------------------------------------------------------------------------------------


def npy(header: str, data: bytes, version: tuple[int, int] = (1, 0)) -> bytes:
    """An .npy file with a literal header text, padded as np.save pads it."""
    magic = b"\x93NUMPY" + bytes(version)
    prefix_len = len(magic) + (2 if version == (1, 0) else 4)
    text = header.encode("utf-8" if version == (3, 0) else "latin1")
    pad = (-(prefix_len + len(text) + 1)) % 64
    text = text + b" " * pad + b"\n"
    length = struct.pack("<H", len(text)) if version == (1, 0) else struct.pack("<I", len(text))
    return magic + length + text + data


def object_npy(pickle_bytes: bytes) -> bytes:
    return npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", pickle_bytes)


# --- report helpers ------------------------------------------------------------------------------------


def scan_bytes(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> ArtifactReport:
    return scan_blob(BytesBlob(data, name), name, limits)


def check_ids(report: ArtifactReport) -> set[str]:
    return {f.check_id for f in report.all_findings()}


def walk(report: ArtifactReport) -> Iterator[ArtifactReport]:
    yield report
    for member in report.members:
        yield from walk(member)


def member(report: ArtifactReport, path: str) -> ArtifactReport:
    for node in walk(report):
        if node.path == path:
            return node
    raise AssertionError(f"no member {path!r} in {[n.path for n in walk(report)]}")


def pickle_analyzer_ready() -> bool:
    """Whether the pickle analyzer is registered (imports only its module, not every family)."""
    return analyzer_for("pickle") is not None
