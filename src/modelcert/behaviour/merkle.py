"""RFC 6962 Merkle trees over item commitments: one published root, a short proof per item.

A dataset is published as the root over its salted item commitments (leaves ordered by item ID).
A holder can later prove that one item was in the set by revealing that item and its salt plus the
audit path: nothing about the other items leaks. Hashes are domain-separated as in RFC 6962
(0x00 for leaves, 0x01 for nodes), so a node can never be passed off as a leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

EMPTY_ROOT = hashlib.sha256(b"").hexdigest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(hashes: Sequence[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_root(hashes[:k]), _root(hashes[k:]))


def merkle_root(leaves: Sequence[bytes]) -> str:
    """Hex root over the leaves (each a raw commitment); the hash of the empty string when empty."""
    if not leaves:
        return EMPTY_ROOT
    return _root([leaf_hash(leaf) for leaf in leaves]).hex()


def _path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    if len(hashes) <= 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*_path(index, hashes[:k]), _root(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _root(hashes[:k])]


@dataclass(frozen=True)
class InclusionProof:
    """That leaf `index` of a `size`-leaf tree is `leaf`: the sibling hashes from the leaf up."""

    index: int
    size: int
    leaf: bytes
    path: tuple[bytes, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "leafIndex": self.index,
            "treeSize": self.size,
            "commitment": self.leaf.hex(),
            "auditPath": [h.hex() for h in self.path],
        }


def inclusion_proof(leaves: Sequence[bytes], index: int) -> InclusionProof:
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is outside a tree of {len(leaves)}")
    hashes = [leaf_hash(leaf) for leaf in leaves]
    return InclusionProof(index, len(leaves), leaves[index], tuple(_path(index, hashes)))


def verify_inclusion(root_hex: str, proof: InclusionProof) -> bool:
    """RFC 9162 §2.1.3.2: recompute the root from the leaf and its audit path."""
    if not 0 <= proof.index < proof.size:
        return False
    fn, sn = proof.index, proof.size - 1
    current = leaf_hash(proof.leaf)
    for sibling in proof.path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            current = node_hash(sibling, current)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            current = node_hash(current, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and current.hex() == root_hex
