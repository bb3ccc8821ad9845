"""HDF5 files (Keras .h5 models and weights) → an inert view: Keras config attributes and every
reference to a file outside this one.

The HDF5 C library crashes (segfaults) on some corrupt files, and a crash would take the whole scan
down with it; so the file is read by h5py in a child process (formats/hdf5_worker.py), under a
memory ceiling and a time limit. A crash or a hang there makes this file unscannable, never the
scan. The child gets the file by path when it is one, else its bytes on stdin.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob, BytesBlob, FileBlob
from modelcert.limits import Limits
from modelcert.records import Record

if TYPE_CHECKING:  # imported when a worker is started (~2 ms): keras analyzers load this module
    import subprocess

# Wall-clock ceiling for one HDF5 file; listing links and attributes takes well under a second
# for real models, so hitting this means the file makes the library loop.
WORKER_SECONDS = 120
WORKER = ("-m", "modelcert.formats.hdf5_worker")
_PIPE_CHUNK = 1024 * 1024


class ExternalReference(Record):
    """A place where reading this file makes the HDF5 library open another file."""

    __slots__ = ("detail", "kind", "pointer", "target")
    kind: Final[str]  # "external-link" | "external-storage" | "virtual-source"
    pointer: Final[str]  # path of the link or dataset inside this file
    target: Final[str]  # the other file's name, as written
    detail: Final[str]

    def __init__(self, kind: str, pointer: str, target: str, detail: str = "") -> None:
        self.kind = kind
        self.pointer = pointer
        self.target = target
        self.detail = detail


class Hdf5View(Record):
    __slots__ = ("datasets", "external", "keras_attributes", "objects")
    keras_attributes: Final[dict[str, str]]
    objects: Final[int]
    datasets: Final[int]
    external: Final[tuple[ExternalReference, ...]]

    def __init__(
        self,
        keras_attributes: dict[str, str],
        objects: int,
        datasets: int,
        external: tuple[ExternalReference, ...],
    ) -> None:
        self.keras_attributes = keras_attributes
        self.objects = objects
        self.datasets = datasets
        self.external = external


def read_hdf5(blob: Blob, limits: Limits) -> Hdf5View:
    if blob.size == 0:
        raise FormatError("empty HDF5 file")
    command = [sys.executable, *WORKER, str(limits.max_archive_members), str(limits.max_json_bytes)]
    if isinstance(blob, FileBlob):
        command.append(str(blob.path))
        output = _run(command, None)
    else:
        output = _run(command, blob)
    try:
        result = json.loads(output)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise FormatError("HDF5 reader returned no result") from None
    if "limit" in result:
        raise LimitExceeded(str(result["limit"]))
    if "error" in result:
        raise FormatError(f"HDF5: {result['error']}")
    view = result["ok"]
    return Hdf5View(
        keras_attributes={str(k): str(v) for k, v in view["attributes"].items()},
        objects=int(view["objects"]),
        datasets=int(view["datasets"]),
        external=tuple(ExternalReference(*map(str, item)) for item in view["external"]),
    )


def _run(command: list[str], blob: Blob | None) -> bytes:
    import subprocess

    env = dict(os.environ)
    source_root = str(Path(__file__).resolve().parents[2])  # makes `-m modelcert...` importable
    env["PYTHONPATH"] = os.pathsep.join(p for p in (source_root, env.get("PYTHONPATH", "")) if p)
    with subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
        command,
        stdin=subprocess.PIPE if blob is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    ) as process:
        try:
            if blob is not None:
                _feed(process, blob)
            output, _ = process.communicate(timeout=WORKER_SECONDS)
            process.wait()
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise LimitExceeded(f"HDF5 reader ran longer than {WORKER_SECONDS} s") from None
        except BrokenPipeError:
            output = b""
            process.wait(timeout=WORKER_SECONDS)
    if process.returncode < 0:
        raise FormatError(
            f"the HDF5 library crashed (signal {-process.returncode}) reading this file: it may target "
            "HDF5 parser bugs"
        )
    return output


def _feed(process: subprocess.Popen[bytes], blob: Blob) -> None:
    assert process.stdin is not None
    if isinstance(blob, BytesBlob):
        process.stdin.write(blob.data)
    else:
        for offset in range(0, blob.size, _PIPE_CHUNK):
            process.stdin.write(blob.read_at(offset, _PIPE_CHUNK))
    process.stdin.close()
    process.stdin = None  # fully sent: communicate() must not flush it again
