"""Builders for safetensors and GGUF files: benign ones from the real libraries, malformed ones by hand.

Nothing here loads a model; payload strings are harmless ("echo modelcert-test").
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# -- safetensors ---------------------------------------------------------------------------------


def st_entry(dtype: str, shape: list[int], begin: int, end: int, **extra: Any) -> dict[str, Any]:
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end], **extra}


def safetensors_raw(header_text: str, data: bytes, *, pad: bool = True) -> bytes:
    """A safetensors file from literal header text (lets tests write duplicate keys, odd padding)."""
    header = header_text.encode()
    if pad:
        header += b" " * ((8 - len(header) % 8) % 8)
    return struct.pack("<Q", len(header)) + header + data


def safetensors_file(header: dict[str, Any], data: bytes) -> bytes:
    return safetensors_raw(json.dumps(header, separators=(",", ":")), data)


def f32_pair() -> tuple[dict[str, Any], bytes]:
    """Two F32 tensors, a: [2] at [0, 8) and b: [1] at [8, 12): a valid layout to mutate."""
    return {"a": st_entry("F32", [2], 0, 8), "b": st_entry("F32", [1], 8, 12)}, bytes(range(12))


# -- GGUF by hand ----------------------------------------------------------------------------------

GGUF_U8, GGUF_U32, GGUF_I32, GGUF_F32, GGUF_BOOL, GGUF_STRING, GGUF_ARRAY, GGUF_U64 = 0, 4, 5, 6, 7, 8, 9, 10


@dataclass
class RawTensor:
    name: str
    dims: list[int]
    ggml_type: int
    offset: int
    n_dims: int | None = None  # declared count when it should differ from len(dims)


@dataclass
class GGUFBuilder:
    """Writes GGUF bytes field by field, so every count and length can be made to lie."""

    version: int = 3
    big_endian: bool = False
    alignment: int = 32
    kvs: list[bytes] = field(default_factory=list)
    tensors: list[RawTensor] = field(default_factory=list)
    n_kv: int | None = None
    n_tensors: int | None = None
    data: bytes = b""
    trailing: bytes = b""

    @property
    def order(self) -> str:
        return ">" if self.big_endian else "<"

    def _len(self, n: int) -> bytes:
        return struct.pack(self.order + ("Q" if self.version >= 2 else "I"), n)

    def string(self, text: str | bytes, declared: int | None = None) -> bytes:
        raw = text.encode() if isinstance(text, str) else text
        return self._len(len(raw) if declared is None else declared) + raw

    def add_raw_kv(self, key: str, value_type: int, payload: bytes) -> GGUFBuilder:
        self.kvs.append(self.string(key) + struct.pack(self.order + "I", value_type) + payload)
        return self

    def add_string(self, key: str, value: str) -> GGUFBuilder:
        return self.add_raw_kv(key, GGUF_STRING, self.string(value))

    def add_u32(self, key: str, value: int) -> GGUFBuilder:
        return self.add_raw_kv(key, GGUF_U32, struct.pack(self.order + "I", value))

    def add_array(
        self, key: str, item_type: int, items: list[Any], declared: int | None = None
    ) -> GGUFBuilder:
        fmt = {GGUF_U8: "B", GGUF_U32: "I", GGUF_I32: "i", GGUF_F32: "f", GGUF_U64: "Q"}.get(item_type)
        body = b"".join(
            self.string(item) if item_type == GGUF_STRING else struct.pack(self.order + str(fmt), item)
            for item in items
        )
        count = len(items) if declared is None else declared
        head = struct.pack(self.order + "I", item_type) + self._len(count)
        return self.add_raw_kv(key, GGUF_ARRAY, head + body)

    def add_tensor(
        self,
        name: str,
        dims: list[int],
        ggml_type: int = 0,
        offset: int | None = None,
        n_dims: int | None = None,
        nbytes: int | None = None,
    ) -> GGUFBuilder:
        """Appends tensor data (zeros, padded to the alignment) unless an explicit offset is given."""
        if offset is None:
            offset = len(self.data)
            size = nbytes if nbytes is not None else 4 * _product(dims)
            self.data += bytes(size) + bytes((-size) % self.alignment)
        self.tensors.append(RawTensor(name, dims, ggml_type, offset, n_dims))
        return self

    def build(self) -> bytes:
        o = self.order
        out = b"GGUF" + struct.pack(o + "I", self.version)
        out += self._len(len(self.tensors) if self.n_tensors is None else self.n_tensors)
        out += self._len(len(self.kvs) if self.n_kv is None else self.n_kv)
        out += b"".join(self.kvs)
        for t in self.tensors:
            out += self.string(t.name)
            out += struct.pack(o + "I", len(t.dims) if t.n_dims is None else t.n_dims)
            out += b"".join(struct.pack(o + ("Q" if self.version >= 2 else "I"), d) for d in t.dims)
            out += struct.pack(o + "I", t.ggml_type) + struct.pack(o + "Q", t.offset)
        if self.tensors:
            out += bytes((-len(out)) % self.alignment)
        return out + self.data + self.trailing


def _product(dims: list[int]) -> int:
    total = 1
    for d in dims:
        total *= d
    return total


# -- GGUF with the real writer -------------------------------------------------------------------


def gguf_writer_bytes(tmp_path: Path, *, chat_template: str | None = None,
                      named_templates: dict[str, str] | None = None, big_endian: bool = False,
                      tensors: bool = True) -> bytes:
    """A small model written by gguf.GGUFWriter (the llama.cpp reference writer)."""
    import gguf
    import numpy as np

    path = tmp_path / f"model-{'be' if big_endian else 'le'}.gguf"
    endian = gguf.GGUFEndian.BIG if big_endian else gguf.GGUFEndian.LITTLE
    writer = gguf.GGUFWriter(str(path), "llama", endianess=endian)
    writer.add_name("tiny-test")
    writer.add_context_length(2048)
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list(["<s>", "</s>", "hello", "world"])
    writer.add_token_scores([0.0, 0.0, -1.0, -2.0])
    writer.add_array("test.nested", [[1, 2], [3, 4]])
    if chat_template is not None:
        writer.add_chat_template(chat_template)
    if named_templates:
        writer.add_chat_template([{"name": k, "template": v} for k, v in named_templates.items()])
    if tensors:
        writer.add_tensor("token_embd.weight", np.ones((4, 32), dtype=np.float32))
        writer.add_tensor("output_norm.weight", np.ones((32,), dtype=np.float16))
        quant = np.zeros((2, 34), dtype=np.uint8)  # two Q8_0 blocks of 32 values
        writer.add_tensor("blk.0.attn_q.weight", quant, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path.read_bytes()
