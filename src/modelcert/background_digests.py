"""SHA-256 of large files computed beside the scan, in child interpreters that share no GIL with it.

One file's SHA-256 is sequential, so a large file's hashing time is the floor of its scan time. In
a thread, the hasher re-takes the GIL after every chunk and waits behind the Python-heavy analyzers
(GGUF vocabularies, template checks), losing ~15 % on a 1.2 GB GGUF. A child process hashes at
full single-core speed while this one analyses: forked when this process is single-threaded (the
CLI: ~1 ms, nothing to import), else a fresh interpreter started with `-I -S` (no site, no
environment: ~15 ms). The child only reads the files it is given and writes digests; its output is
parsed strictly. Where no child can start or one dies, the files it did not answer for are hashed
in threads of this process: a correct digest always comes back.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from modelcert.package import file_sha256

# No GIL to share in the child: L2-sized reads measured fastest beside a busy parent (vs 1 MiB, 8 MiB).
CHILD_CHUNK_BYTES = 256 * 1024

# Runs in the child: hashes argv[1:] in order, one "<index> <hexdigest>" or "<index> ! <errno>" line each.
_CHILD_CODE = """\
import hashlib, sys
buf = bytearray(@CHUNK@)
view = memoryview(buf)
for i, path in enumerate(sys.argv[1:]):
    try:
        h = hashlib.sha256()
        with open(path, "rb", buffering=0) as fh:
            while n := fh.readinto(buf):
                h.update(view[:n])
        line = f"{i} {h.hexdigest()}"
    except OSError as exc:
        line = f"{i} ! {exc.errno or 0}"
    sys.stdout.write(line + "\\n")
    sys.stdout.flush()
""".replace("@CHUNK@", str(CHILD_CHUNK_BYTES))


def partition(sizes: Sequence[int], bins: int) -> list[list[int]]:
    """Indexes of `sizes` in at most `bins` groups of similar total (each largest next to the lightest)."""
    groups: list[list[int]] = [[] for _ in range(max(1, min(bins, len(sizes))))]
    totals = [0] * len(groups)
    for index in sorted(range(len(sizes)), key=lambda i: -sizes[i]):
        lightest = totals.index(min(totals))
        groups[lightest].append(index)
        totals[lightest] += sizes[index]
    return [g for g in groups if g]


class PendingDigest:
    """One file's digest, set once by a reader thread (concurrent.futures would add ~6 ms of imports
    before hashing can start, for logging and more)."""

    def __init__(self) -> None:
        self._settled = threading.Event()
        self._lock = threading.Lock()
        self._digest: bytes | None = None
        self._error: BaseException | None = None
        self._callbacks: list[Callable[[], None]] = []

    def done(self) -> bool:
        return self._settled.is_set()

    def result(self, timeout: float | None = None) -> bytes:
        """The digest; raises what reading the file raised, or TimeoutError."""
        if not self._settled.wait(timeout):
            raise TimeoutError("digest not ready")
        if self._error is not None:
            raise self._error
        assert self._digest is not None
        return self._digest

    def add_done_callback(self, callback: Callable[[], None]) -> None:
        with self._lock:
            if not self._settled.is_set():
                self._callbacks.append(callback)
                return
        callback()

    def set_result(self, digest: bytes) -> None:
        self._settle(digest, None)

    def set_exception(self, error: BaseException) -> None:
        self._settle(None, error)

    def _settle(self, digest: bytes | None, error: BaseException | None) -> None:
        with self._lock:
            if self._settled.is_set():
                return
            self._digest, self._error = digest, error
            self._settled.set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            callback()


class _Child:
    """A hashing child: forked (cheapest, when this process has no other thread) or spawned."""

    def __init__(
        self, how: str, stream: IO[bytes], kill: Callable[[], None], wait: Callable[[], object]
    ) -> None:
        self.how, self.stream, self.kill, self.wait = how, stream, kill, wait


def _fork(group: list[Path]) -> _Child | None:
    # fork() with other threads alive can deadlock the child (locks held mid-operation): only fork
    # a single-threaded process, as the CLI is when a scan starts. Linux only: macOS system
    # frameworks are not fork-safe (Python's own multiprocessing spawns there).
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return None
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_fd)
        os.close(write_fd)
        return None
    if pid == 0:  # child: hash, write lines, exit without running the parent's cleanup
        status = 0
        try:
            os.close(read_fd)
            _hash_into(write_fd, group)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(write_fd)

    def kill() -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    def wait() -> object:
        with contextlib.suppress(ChildProcessError):
            return os.waitpid(pid, 0)
        return None

    return _Child("fork", os.fdopen(read_fd, "rb"), kill, wait)


def _hash_into(fd: int, group: list[Path]) -> None:
    """The forked child's work; the same lines as `_CHILD_CODE` prints."""
    for index, path in enumerate(group):
        try:
            line = f"{index} {file_sha256(path, CHILD_CHUNK_BYTES).hex()}\n"
        except OSError as exc:
            line = f"{index} ! {exc.errno or 0}\n"
        os.write(fd, line.encode("ascii"))


def _spawn(group: list[Path]) -> _Child | None:
    if not sys.executable:
        return None
    import subprocess

    try:
        child = subprocess.Popen(  # noqa: S603 - our own interpreter and constant code, no shell
            [sys.executable, "-I", "-S", "-c", _CHILD_CODE, *map(os.fspath, group)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except (OSError, ValueError):
        return None
    assert child.stdout is not None
    return _Child("spawn", child.stdout, child.kill, child.wait)


class BackgroundDigests:
    """Start hashing `paths` now; `future(path)` is the raw SHA-256 of that file, when it is done.

    `close()` (or leaving the `with` block) waits for the readers and ends any child still running.
    """

    def __init__(self, paths: Sequence[Path], sizes: Sequence[int], workers: int, fork: bool = True) -> None:
        self._futures: dict[Path, PendingDigest] = {p: PendingDigest() for p in paths}
        self._abandoned = False
        groups = [[paths[i] for i in group] for group in partition(sizes, workers)]
        # Every child is started before any reader thread, so each fork sees one thread only.
        launched = [(group, (fork and _fork(group)) or _spawn(group)) for group in groups]
        self._children = [child for _, child in launched if child is not None]
        self._readers = [
            threading.Thread(target=self._collect, args=(g, c), name="modelcert-digests", daemon=True)
            for g, c in launched
        ]
        for reader in self._readers:
            reader.start()

    def future(self, path: Path) -> PendingDigest:
        return self._futures[path]

    @property
    def how(self) -> list[str]:
        """How each group of files is hashed: "fork", "spawn" or "thread" (no child could start)."""
        return [c.how for c in self._children] + ["thread"] * (len(self._readers) - len(self._children))

    @property
    def in_threads(self) -> bool:
        return "thread" in self.how

    def close(self) -> None:
        if not all(f.done() for f in self._futures.values()):  # the scan was abandoned
            self._abandoned = True
            for child in self._children:
                with contextlib.suppress(OSError):
                    child.kill()
        for reader in self._readers:
            reader.join()
        for child in self._children:
            with contextlib.suppress(OSError):
                child.wait()

    def __enter__(self) -> BackgroundDigests:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _collect(self, group: list[Path], child: _Child | None) -> None:
        """Resolve each path's future from the child's lines; hash here whatever it did not deliver."""
        if child is not None:
            with child.stream:
                _read_child_lines(child.stream, group, self._futures)
        for path in group:
            future = self._futures[path]
            if future.done():
                continue
            if self._abandoned:
                future.set_exception(RuntimeError("scan abandoned before this file was hashed"))
            else:
                _settle(future, path)


def _read_child_lines(stream: IO[bytes], group: list[Path], futures: dict[Path, PendingDigest]) -> None:
    """Parse "<index> <64 hex>" / "<index> ! <errno>"; stop at the first line that is neither."""
    for raw in stream:
        parts = raw.decode("ascii", "replace").split()
        if len(parts) < 2 or not parts[0].isdigit() or int(parts[0]) >= len(group):
            return
        future = futures[group[int(parts[0])]]
        if future.done():
            return
        if len(parts) == 2 and len(parts[1]) == 64:
            try:
                future.set_result(bytes.fromhex(parts[1]))
            except ValueError:
                return
        elif len(parts) == 3 and parts[1] == "!" and parts[2].isdigit():
            errno = int(parts[2])
            path = group[int(parts[0])]
            future.set_exception(OSError(errno, os.strerror(errno) if errno else "read failed", str(path)))
        else:
            return


def _settle(future: PendingDigest, path: Path) -> None:
    try:
        future.set_result(file_sha256(path, CHILD_CHUNK_BYTES))
    except OSError as exc:
        future.set_exception(exc)
