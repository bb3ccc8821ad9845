"""A model package on disk: a safe walk of a folder (or one file) and its OMS root digest.

The walk never follows symlinks: they are listed separately so the scanner can report them, and
OpenSSF Model Signing refuses them by default too. Paths are POSIX, relative and case-sensitive,
sorted by code point, with OMS v1.0's default ignored paths left out so that our root digest equals
the subject digest of a model-signing signature over the same folder.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from modelcert.errors import PackageError
from modelcert.formats.blob import Blob, FileBlob
from modelcert.limits import Limits
from modelcert.records import Record

# OMS v1.0 default ignore_paths (model_signing 1.1.1 `hashing.Config`): relative to the model root.
OMS_DEFAULT_IGNORED = (".git", ".github", ".gitignore", ".gitattributes")


class PackageFile(Record):
    __slots__ = ("abspath", "relpath", "size")
    relpath: Final[str]
    abspath: Final[Path]
    size: Final[int]

    def __init__(self, relpath: str, abspath: Path, size: int) -> None:
        self.relpath = relpath
        self.abspath = abspath
        self.size = size


class PackageLink(Record):
    __slots__ = ("escapes", "relpath", "target")
    relpath: Final[str]
    target: Final[str]
    escapes: Final[bool]  # resolves outside the package root (or dangles)

    def __init__(self, relpath: str, target: str, escapes: bool) -> None:
        self.relpath = relpath
        self.target = target
        self.escapes = escapes


class ModelPackage(Record):
    """The regular files of a package, plus what the walk refused (links, special files)."""

    __slots__ = ("_by_path", "files", "ignored", "is_dir", "links", "root", "special")
    root: Final[Path]
    is_dir: Final[bool]
    files: Final[tuple[PackageFile, ...]]
    links: Final[tuple[PackageLink, ...]]
    special: Final[tuple[str, ...]]  # fifos, devices, sockets: never opened
    ignored: Final[tuple[str, ...]]

    def __init__(
        self,
        root: Path,
        is_dir: bool,
        files: tuple[PackageFile, ...],
        links: tuple[PackageLink, ...] = (),
        special: tuple[str, ...] = (),
        ignored: tuple[str, ...] = (),
        _by_path: dict[str, PackageFile] | None = None,
    ) -> None:
        self.root = root
        self.is_dir = is_dir
        self.files = files
        self.links = links
        self.special = special
        self.ignored = ignored
        # An index, not a field (not compared, hashed or shown); built from `files` when not given.
        self._by_path: Final = {f.relpath: f for f in files} if _by_path is None else _by_path

    @classmethod
    def open(
        cls, path: Path, limits: Limits, ignore_paths: Iterable[str] = OMS_DEFAULT_IGNORED
    ) -> ModelPackage:
        try:
            st = os.lstat(path)
        except OSError as exc:
            raise PackageError(f"cannot read {path}: {exc.strerror}") from exc
        if stat.S_ISLNK(st.st_mode):
            raise PackageError(f"{path} is a symlink; give the real path (symlinks are never followed)")
        if stat.S_ISREG(st.st_mode):
            pf = PackageFile(relpath=path.name, abspath=path, size=st.st_size)
            return cls(root=path, is_dir=False, files=(pf,), _by_path={pf.relpath: pf})
        if not stat.S_ISDIR(st.st_mode):
            raise PackageError(f"{path} is neither a file nor a folder")
        return _walk(path, limits, tuple(ignore_paths))

    def get(self, relpath: str) -> PackageFile | None:
        return self._by_path.get(relpath)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


class PackageFiles:
    """A package's regular files by relative path, opened lazily as blobs; links never followed.

    This is the `PackageView` analyzers and package-level checks read sibling files through.
    """

    def __init__(self, package: ModelPackage) -> None:
        self._package = package
        self._links = {link.relpath for link in package.links}

    def relpaths(self) -> list[str]:
        return [f.relpath for f in self._package.files]

    def open_file(self, relpath: str) -> Blob | None:
        pf = self._package.get(relpath)
        if pf is None:
            return None
        try:
            return FileBlob(pf.abspath, pf.relpath)
        except OSError:
            return None

    def is_symlink(self, relpath: str) -> bool:
        return relpath in self._links


def _walk(root: Path, limits: Limits, ignore: tuple[str, ...]) -> ModelPackage:
    files: list[PackageFile] = []
    links: list[PackageLink] = []
    special: list[str] = []
    ignored: list[str] = []
    real_root = os.path.realpath(root)
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        abs_dir = root / rel_dir if rel_dir else root
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError as exc:
            raise PackageError(f"cannot list {abs_dir}: {exc.strerror}") from exc
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if _is_ignored(rel, ignore):
                ignored.append(rel)
                continue
            if entry.is_symlink():
                target = str(Path(entry.path).readlink())
                resolved = os.path.realpath(entry.path)
                inside = resolved == real_root or resolved.startswith(real_root + os.sep)
                links.append(PackageLink(rel, target, escapes=not (inside and Path(resolved).exists())))
            elif entry.is_dir(follow_symlinks=False):
                stack.append(rel)
            elif entry.is_file(follow_symlinks=False):
                files.append(PackageFile(rel, Path(entry.path), entry.stat(follow_symlinks=False).st_size))
                if len(files) > limits.max_files:
                    raise PackageError(f"{root} holds more than {limits.max_files} files")
            else:
                special.append(rel)
    files.sort(key=lambda f: f.relpath)
    return ModelPackage(
        root=root,
        is_dir=True,
        files=tuple(files),
        links=tuple(sorted(links, key=lambda link: link.relpath)),
        special=tuple(sorted(special)),
        ignored=tuple(sorted(ignored)),
        _by_path={f.relpath: f for f in files},
    )


def _is_ignored(relpath: str, ignore: tuple[str, ...]) -> bool:
    return any(relpath == p or relpath.startswith(p + "/") for p in ignore)


def oms_root_digest(digests: Mapping[str, bytes]) -> str:
    """SHA-256 over the raw per-file SHA-256 digests concatenated in code-point order of their paths.

    This is the subject digest of an OMS v1.0 `files` serialization (model_signing 1.1.1).
    """
    root = hashlib.sha256()
    for relpath in sorted(digests):
        root.update(digests[relpath])
    return root.hexdigest()


def file_sha256(path: Path, chunk: int = 1024 * 1024) -> bytes:
    """Streaming SHA-256 of one file with a reused buffer (no per-chunk allocation)."""
    h = hashlib.sha256()
    buffer = bytearray(chunk)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as fh:
        while n := fh.readinto(buffer):
            h.update(view[:n])
    return h.digest()


def hash_package(package: ModelPackage, workers: int = 2) -> dict[str, bytes]:
    """Raw SHA-256 digest of every regular file, files hashed in parallel (hashlib releases the GIL).

    This is the fast path `verify` uses: no format analysis, one read of each byte.
    """
    from concurrent.futures import ThreadPoolExecutor

    files = sorted(package.files, key=lambda f: -f.size)  # big first: better load balance
    if workers <= 1 or len(files) <= 1:
        return {f.relpath: file_sha256(f.abspath) for f in files}
    with ThreadPoolExecutor(max_workers=workers) as pool:
        digests = pool.map(lambda f: file_sha256(f.abspath), files)
        return {f.relpath: d for f, d in zip(files, digests, strict=True)}
