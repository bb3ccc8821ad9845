"""HDF5 files (Keras .h5 models and weights) → an inert view: Keras config attributes and every
reference to a file outside this one.

Opened read-only with h5py from the blob (an in-memory buffer or a seekable stream, never a path).
Links are listed without being followed: external links, external raw storage and virtual-dataset
sources are recorded, never opened, because following them makes the HDF5 library read other
files of the host. No dataset is read.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob, BytesBlob
from modelcert.limits import Limits

# Root attributes Keras writes into .h5 models (legacy_h5_format / tf.keras hdf5_format).
KERAS_ATTRIBUTES = ("model_config", "training_config", "keras_version", "backend")


@dataclass(frozen=True)
class ExternalReference:
    """A place where reading this file makes the HDF5 library open another file."""

    kind: str  # "external-link" | "external-storage" | "virtual-source"
    pointer: str  # path of the link or dataset inside this file
    target: str  # the other file's name, as written
    detail: str = ""


@dataclass(frozen=True)
class Hdf5View:
    keras_attributes: dict[str, str]
    objects: int
    datasets: int
    external: tuple[ExternalReference, ...]


def read_hdf5(blob: Blob, limits: Limits) -> Hdf5View:
    # Imported here: h5py loads the HDF5 C library; only HDF5 files need it.
    import h5py  # noqa: PLC0415

    stream = io.BytesIO(blob.data) if isinstance(blob, BytesBlob) else blob.open()
    try:
        with h5py.File(stream, "r") as handle:
            attributes = _keras_attributes(handle, limits)
            objects, datasets, external = _walk(handle, h5py, limits)
    except (LimitExceeded, FormatError):
        raise
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        raise FormatError(f"HDF5: {str(exc)[:200]}") from None
    finally:
        stream.close()
    return Hdf5View(keras_attributes=attributes, objects=objects, datasets=datasets, external=external)


def _keras_attributes(handle: Any, limits: Limits) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in KERAS_ATTRIBUTES:
        if name not in handle.attrs:
            continue
        size = handle.attrs.get_id(name).get_storage_size()
        if size > limits.max_json_bytes:
            raise LimitExceeded(f"HDF5 attribute {name!r}: {size} bytes exceeds {limits.max_json_bytes}")
        out[name] = _as_text(handle.attrs[name])
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


def _walk(handle: Any, h5py: Any, limits: Limits) -> tuple[int, int, tuple[ExternalReference, ...]]:
    names: list[str] = []
    ceiling = limits.max_archive_members

    def collect(name: str) -> bool | None:
        names.append(name)
        return True if len(names) > ceiling else None  # a non-None return stops the visit

    handle.visit_links(collect)
    if len(names) > ceiling:
        raise LimitExceeded(f"HDF5 file holds more than {ceiling} links")
    external: list[ExternalReference] = []
    datasets = 0
    for name in names:
        link = handle.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            external.append(ExternalReference("external-link", name, str(link.filename), str(link.path)))
            continue
        if not isinstance(link, h5py.HardLink):
            continue  # soft links name paths inside this file; never resolved
        obj = handle.get(name)
        if isinstance(obj, h5py.Dataset):
            datasets += 1
            external.extend(_dataset_sources(name, obj, h5py))
    return len(names), datasets, tuple(external)


def _dataset_sources(name: str, dataset: Any, h5py: Any) -> list[ExternalReference]:
    plist = dataset.id.get_create_plist()
    found: list[ExternalReference] = []
    for index in range(plist.get_external_count()):
        filename, offset, size = plist.get_external(index)
        found.append(ExternalReference(
            "external-storage", name, _decode(filename), f"offset {offset}, {size} bytes"))
    if plist.get_layout() == h5py.h5d.VIRTUAL:
        for index in range(plist.get_virtual_count()):
            found.append(ExternalReference(
                "virtual-source", name, _decode(plist.get_virtual_filename(index)),
                _decode(plist.get_virtual_dsetname(index))))
    return found


def _decode(value: Any) -> str:
    return value.decode("utf-8", errors="replace") if isinstance(value, bytes) else str(value)
