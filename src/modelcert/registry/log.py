"""RFC 6962 / RFC 9162 Merkle tree: leaf and node hashing, tree heads, inclusion and consistency proofs.

Hashing (RFC 6962 §2.1): leaf = SHA-256(0x00 ‖ entry), node = SHA-256(0x01 ‖ left ‖ right), the empty
tree's head is SHA-256(""). Proofs are produced by the RFC's PATH and SUBPROOF recursions and checked by
the RFC 9162 §2.1.3.2 / §2.1.4.2 verification algorithms, so any RFC 9162 client can check them.

Why our own code and not `pymerkle` inside: pymerkle's roots and inclusion paths match the RFC, but its
consistency proofs use another encoding (provenance.md §7), and its storage backends cannot live in
PostgreSQL. The tests cross-check every root and inclusion path here against pymerkle and against the
published RFC 6962 test vectors.

Complete subtrees (aligned, power-of-two sized) never change once full, so they are memoised: a tree
head or proof over n leaves costs O(log n) hashes once the cache is warm.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from modelcert.registry import RegistryError

HASH_SIZE = 32
MAX_PROOF_HASHES = 64  # a tree of 2^64 leaves needs at most 64 (inclusion) or 65 (consistency)
EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(RegistryError):
    """A Merkle proof does not verify (or is malformed)."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than n (n > 1): where RFC 6962 splits a tree."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """Append-only list of leaf hashes with memoised complete subtrees. Not thread-safe for writers."""

    def __init__(self, leaves: Iterable[bytes] = ()) -> None:
        self._leaves: list[bytes] = []
        self._perfect: dict[tuple[int, int], bytes] = {}  # (start, size) of a full aligned subtree
        self.extend(leaves)

    @property
    def size(self) -> int:
        return len(self._leaves)

    def append(self, leaf: bytes) -> int:
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        self._leaves.append(bytes(leaf))
        return len(self._leaves) - 1

    def extend(self, leaves: Iterable[bytes]) -> None:
        for leaf in leaves:
            self.append(leaf)

    def leaf(self, index: int) -> bytes:
        return self._leaves[index]

    def root(self, size: int | None = None) -> bytes:
        """MTH(D[0:size]) — the tree head at any past size."""
        n = self.size if size is None else self._check_size(size)
        return EMPTY_ROOT if n == 0 else self._hash(0, n)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 audit path of leaf `index` in the tree of `size` leaves."""
        n = self.size if size is None else self._check_size(size)
        if not 0 <= index < n:
            raise ProofError(f"leaf {index} is not in a tree of size {n}")
        return self._path(index, 0, n)

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 proof that the tree of `old_size` is a prefix of the tree of `new_size`."""
        n = self.size if new_size is None else self._check_size(new_size)
        if not 0 <= old_size <= n:
            raise ProofError(f"old size {old_size} is larger than new size {n}")
        if old_size in (0, n):
            return []
        return self._subproof(old_size, 0, n, True)

    # -- internals -------------------------------------------------------------------------------

    def _check_size(self, size: int) -> int:
        if not 0 <= size <= self.size:
            raise ProofError(f"tree size {size} is beyond the log's {self.size} entries")
        return size

    def _hash(self, start: int, end: int) -> bytes:
        """MTH of leaves [start, end), end > start."""
        n = end - start
        if n == 1:
            return self._leaves[start]
        perfect = n & (n - 1) == 0 and start % n == 0
        if perfect:
            cached = self._perfect.get((start, n))
            if cached is not None:
                return cached
        k = _split(n)
        value = node_hash(self._hash(start, start + k), self._hash(start + k, end))
        if perfect:
            self._perfect[(start, n)] = value
        return value

    def _path(self, m: int, start: int, end: int) -> list[bytes]:
        n = end - start
        if n == 1:
            return []
        k = _split(n)
        if m < k:
            return [*self._path(m, start, start + k), self._hash(start + k, end)]
        return [*self._path(m - k, start + k, end), self._hash(start, start + k)]

    def _subproof(self, m: int, start: int, end: int, whole: bool) -> list[bytes]:
        n = end - start
        if m == n:
            return [] if whole else [self._hash(start, end)]
        k = _split(n)
        if m <= k:
            return [*self._subproof(m, start, start + k, whole), self._hash(start + k, end)]
        return [*self._subproof(m - k, start + k, end, False), self._hash(start, start + k)]


def _check_hashes(proof: Sequence[bytes], what: str) -> None:
    if len(proof) > MAX_PROOF_HASHES:
        raise ProofError(f"{what} has {len(proof)} hashes (at most {MAX_PROOF_HASHES})")
    if any(len(h) != HASH_SIZE for h in proof):
        raise ProofError(f"{what} holds a hash that is not 32 bytes")


def root_from_inclusion_proof(index: int, size: int, leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The tree head an inclusion proof implies (RFC 9162 §2.1.3.2 steps 1–5, without the compare)."""
    _check_hashes(proof, "inclusion proof")
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof is shorter than the tree is deep")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, proof: Sequence[bytes], root: bytes) -> None:
    """Raise ProofError unless `leaf` is entry `index` of the tree of `size` leaves with head `root`."""
    if root_from_inclusion_proof(index, size, leaf, proof) != root:
        raise ProofError(f"inclusion proof for entry {index} does not lead to the tree head of size {size}")


def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """Raise ProofError unless the tree (old_size, old_root) is a prefix of (new_size, new_root)."""
    _check_hashes(proof, "consistency proof")
    if not 0 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}: the log shrank")
    if old_size == new_size:
        if proof or old_root != new_root:
            raise ProofError("two tree heads of the same size differ: the log forked")
        return
    if old_size == 0:
        if proof:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(f"tree heads of sizes {old_size} and {new_size} are not consistent: the log forked")
