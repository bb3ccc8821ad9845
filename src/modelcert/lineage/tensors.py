"""Tensors of a safetensors model, read one window at a time: never a whole model in memory.

A model is one `model.safetensors` or shards listed by `model.safetensors.index.json`; the header of
each file is parsed by `formats.safetensors.read_safetensors` (the validating reader), and tensor
rows are decoded with `numpy.frombuffer` from positioned reads of at most `chunk_bytes`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from modelcert.errors import FormatError, LimitExceeded
from modelcert.formats.blob import Blob
from modelcert.formats.safetensors import TensorEntry, read_safetensors
from modelcert.limits import Limits

if TYPE_CHECKING:  # a type only: lineage sits below checks
    from modelcert.checks.base import PackageView

FLOAT_DTYPES = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "BF16": np.uint16}
INT_DTYPES = {
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "BOOL": np.uint8,
}
PRECISION_RANK = {"F64": 3, "F32": 2, "F16": 1, "BF16": 0}  # which float a comparison rounds to
DEFAULT_CHUNK_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class StoredTensor:
    """One tensor: which file holds it, where its bytes are, what it is."""

    name: str
    file: str
    blob: Blob
    entry: TensorEntry
    data_start: int

    @property
    def shape(self) -> tuple[int, ...]:
        return self.entry.shape

    @property
    def dtype(self) -> str:
        return self.entry.dtype

    @property
    def numel(self) -> int:
        return self.entry.elements

    @property
    def is_float(self) -> bool:
        return self.entry.dtype in FLOAT_DTYPES

    def rows(self) -> int:
        return self.shape[0] if len(self.shape) >= 2 else 1

    def row_width(self) -> int:
        return self.numel // self.rows() if self.rows() else 0

    def read_rows(self, start: int, count: int) -> np.ndarray:
        """Rows [start, start+count) as float32 (2-D: rows × width; 1-D tensors are one row)."""
        width = self.row_width()
        itemsize = np.dtype(FLOAT_DTYPES.get(self.dtype) or INT_DTYPES[self.dtype]).itemsize
        offset = self.data_start + self.entry.begin + start * width * itemsize
        raw = self.blob.read_at(offset, count * width * itemsize)
        if len(raw) != count * width * itemsize:
            raise FormatError(f"tensor {self.name!r} is truncated", offset)
        return decode(raw, self.dtype).reshape(count, width)

    def iter_chunks(self, chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[tuple[int, np.ndarray]]:
        """(first row, rows as float32) windows covering the tensor."""
        width = max(1, self.row_width())
        itemsize = np.dtype(FLOAT_DTYPES.get(self.dtype) or INT_DTYPES[self.dtype]).itemsize
        step = max(1, chunk_bytes // (width * itemsize))
        for start in range(0, self.rows(), step):
            count = min(step, self.rows() - start)
            yield start, self.read_rows(start, count)


def decode(raw: bytes, dtype: str) -> np.ndarray:
    """Little-endian tensor bytes as a flat float32 array (bf16 widened exactly)."""
    if dtype == "BF16":
        bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
        return bits.view(np.float32)
    if dtype in FLOAT_DTYPES:
        return np.frombuffer(raw, dtype=np.dtype(FLOAT_DTYPES[dtype]).newbyteorder("<")).astype(np.float32)
    if dtype in INT_DTYPES:
        return np.frombuffer(raw, dtype=np.dtype(INT_DTYPES[dtype]).newbyteorder("<")).astype(np.float32)
    raise FormatError(f"dtype {dtype} is not compared")


def round_to(values: np.ndarray, dtype: str) -> np.ndarray:
    """Round float32 values to `dtype`'s precision (so an fp32 base compares fairly with a bf16 copy)."""
    if dtype == "F16":
        return values.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        bits = values.astype(np.float32).view(np.uint32)
        rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000  # round to nearest even
        return rounded.astype(np.uint32).view(np.float32)
    return values


def coarser(a: str, b: str) -> str:
    """The less precise of two float dtypes (comparisons happen at that precision)."""
    return a if PRECISION_RANK.get(a, 2) <= PRECISION_RANK.get(b, 2) else b


class TensorStore:
    """Every tensor of one model (possibly sharded), by name; files stay open until `close`."""

    def __init__(self) -> None:
        self.tensors: dict[str, StoredTensor] = {}
        self._blobs: list[Blob] = []

    @classmethod
    def open(cls, view: PackageView, files: list[str], limits: Limits) -> TensorStore:
        store = cls()
        try:
            for relpath in files:
                blob = view.open_file(relpath)
                if blob is None:
                    continue
                store._blobs.append(blob)
                header = read_safetensors(blob, limits)
                if len(store.tensors) + len(header.tensors) > limits.max_count:
                    raise LimitExceeded("too many tensors to compare")
                for entry in header.tensors:
                    if entry.end - entry.begin == entry.elements * _itemsize(entry.dtype) and (
                        entry.dtype in FLOAT_DTYPES or entry.dtype in INT_DTYPES
                    ):
                        store.tensors[entry.name] = StoredTensor(
                            entry.name, relpath, blob, entry, header.data_start
                        )
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        for blob in self._blobs:
            blob.close()
        self._blobs.clear()

    def __enter__(self) -> TensorStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _itemsize(dtype: str) -> int:
    kind = FLOAT_DTYPES.get(dtype) or INT_DTYPES.get(dtype)
    return np.dtype(kind).itemsize if kind is not None else 0
