"""The HDF5 reading that runs in a child process (see formats/hdf5.py for why).

Entry point: `python -m modelcert.formats.hdf5_worker MAX_LINKS MAX_ATTR_BYTES [PATH]`. The file is
PATH, or stdin when no path is given. The result goes to stdout as one JSON object; this process
boundary is the only place in the library that writes to a stream.

Links are listed without being followed: external links, external raw storage and virtual-dataset
sources are recorded, never opened, because following them makes the HDF5 library read other
files of the host. No dataset is read.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, BinaryIO

# Root attributes Keras writes into .h5 models (legacy_h5_format / tf.keras hdf5_format).
KERAS_ATTRIBUTES = ("model_config", "training_config", "keras_version", "backend")
# Address-space ceiling of the worker: a crafted file that makes the HDF5 library allocate wildly
# fails here instead of exhausting the host.
MEMORY_CEILING = 4 * 1024 * 1024 * 1024
_SPOOL_IN_MEMORY = 64 * 1024 * 1024


class _Limit(Exception):
    pass


def inspect_file(stream: BinaryIO, max_links: int, max_attr_bytes: int) -> dict[str, Any]:
    import h5py

    with h5py.File(stream, "r") as handle:
        attributes = _keras_attributes(handle, max_attr_bytes)
        objects, datasets, external = _walk(handle, h5py, max_links)
    return {"attributes": attributes, "objects": objects, "datasets": datasets, "external": external}


def _keras_attributes(handle: Any, max_bytes: int) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in KERAS_ATTRIBUTES:
        if name not in handle.attrs:
            continue
        text = _as_text(handle.attrs[name])
        if len(text) > max_bytes:
            raise _Limit(f"HDF5 attribute {name!r}: {len(text)} characters exceeds {max_bytes}")
        out[name] = text
    return out


def _as_text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    if hasattr(value, "tolist"):
        items = value.tolist()
        if isinstance(items, list) and len(items) == 1:
            return _as_text(items[0])
        return _as_text(items) if isinstance(items, (bytes, str)) else str(items)
    return str(value)


def _walk(handle: Any, h5py: Any, max_links: int) -> tuple[int, int, list[list[str]]]:
    names: list[str] = []

    def collect(name: str) -> bool | None:
        names.append(name)
        return True if len(names) > max_links else None  # a non-None return stops the visit

    handle.visit_links(collect)
    if len(names) > max_links:
        raise _Limit(f"HDF5 file holds more than {max_links} links")
    external: list[list[str]] = []
    datasets = 0
    for name in names:
        link = handle.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            external.append(["external-link", name, str(link.filename), str(link.path)])
            continue
        if not isinstance(link, h5py.HardLink):
            continue  # soft links name paths inside this file; never resolved
        obj = handle.get(name)
        if isinstance(obj, h5py.Dataset):
            datasets += 1
            external.extend(_dataset_sources(name, obj, h5py))
    return len(names), datasets, external


def _dataset_sources(name: str, dataset: Any, h5py: Any) -> list[list[str]]:
    plist = dataset.id.get_create_plist()
    found: list[list[str]] = []
    for index in range(plist.get_external_count()):
        filename, offset, size = plist.get_external(index)
        found.append(["external-storage", name, _decode(filename), f"offset {offset}, {size} bytes"])
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        for index in range(plist.get_virtual_count()):
            found.append(["virtual-source", name, _decode(plist.get_virtual_filename(index)),
                          _decode(plist.get_virtual_dsetname(index))])
    return found


def _decode(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)


def _open_input(path: str | None) -> BinaryIO:
    if path is not None:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        return os.fdopen(fd, "rb")
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY, prefix="modelcert-h5-")  # noqa: SIM115
    while chunk := sys.stdin.buffer.read(1024 * 1024):
        spool.write(chunk)
    spool.seek(0)
    return spool  # type: ignore[return-value]


def _limit_memory() -> None:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CEILING, MEMORY_CEILING))
    except (ImportError, ValueError, OSError):
        pass


def main(argv: list[str]) -> int:
    _limit_memory()
    max_links, max_attr_bytes = int(argv[0]), int(argv[1])
    path = argv[2] if len(argv) > 2 else None
    try:
        with _open_input(path) as stream:
            result: dict[str, Any] = {"ok": inspect_file(stream, max_links, max_attr_bytes)}
    except _Limit as exc:
        result = {"limit": str(exc)}
    except MemoryError:
        result = {"limit": "the HDF5 library ran out of memory reading this file"}
    except Exception as exc:  # h5py raises many types on corrupt files; all mean "unreadable"
        result = {"error": f"{type(exc).__name__}: {str(exc)[:200]}"}
    sys.stdout.write(json.dumps(result))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
