"""Tensor names and weight files, shared by the lineage comparison and the config checks.

No numpy here: the config checks run on every package, the numpy-backed comparison only with --base.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from modelcert.errors import FormatError
from modelcert.formats.json_doc import load_json
from modelcert.limits import Limits

if TYPE_CHECKING:  # a type only: lineage sits below checks
    from modelcert.checks.base import PackageView

EMBEDDING_NAMES = (
    "embed_tokens.weight",
    "wte.weight",
    "word_embeddings.weight",
    "tok_embeddings.weight",
    "embeddings.weight",
    "token_embd.weight",
)
HEAD_NAMES = ("lm_head.weight", "output.weight", "embed_out.weight")


def named_like(name: str, suffixes: tuple[str, ...]) -> bool:
    """`name` is one of `suffixes` or ends with one at a dotted boundary: `bert.embeddings.weight`
    matches "embeddings.weight", `bert.embeddings.position_embeddings.weight` does not."""
    return any(name == s or name.endswith("." + s) for s in suffixes)


def is_token_embedding(name: str) -> bool:
    return named_like(name, EMBEDDING_NAMES)
LAYER_INDEX = re.compile(r"(?:^|\.)(?:layers|h|layer|blocks|block|decoder\.layers|encoder\.layers)\.(\d+)\.")
_STRIP_PREFIXES = ("base_model.model.", "model.", "transformer.", "gpt_neox.", "language_model.")


def canonical_name(name: str) -> str:
    """A tensor name without the wrapper prefixes exporters add, for aligning two models."""
    for prefix in _STRIP_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def layer_of(name: str) -> int | None:
    match = LAYER_INDEX.search(name)
    return int(match.group(1)) if match else None


def weight_files(view: PackageView, limits: Limits, folder: str = "") -> list[str]:
    """The safetensors files of the model in `folder`: the shard index's files, else every *.safetensors."""
    prefix = f"{folder}/" if folder else ""
    index_path = f"{prefix}model.safetensors.index.json"
    paths = set(view.relpaths())
    if index_path in paths:
        blob = view.open_file(index_path)
        if blob is not None:
            try:
                weight_map = load_json(blob, limits).obj.get("weight_map")
            except FormatError:
                weight_map = None
            finally:
                blob.close()
            if isinstance(weight_map, dict):
                shards = sorted({f"{prefix}{v}" for v in weight_map.values() if isinstance(v, str)})
                return [s for s in shards if s in paths]
    return sorted(
        p
        for p in paths
        if p.startswith(prefix)
        and "/" not in p[len(prefix) :]
        and p.endswith(".safetensors")
        and not p[len(prefix) :].startswith("adapter_model")
    )
