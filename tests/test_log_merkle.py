"""RFC 6962/9162 Merkle tree: published vectors, pymerkle cross-check, proofs verify, tampering fails."""

from __future__ import annotations

import hashlib

import pymerkle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.registry.log import (
    EMPTY_ROOT,
    MerkleTree,
    ProofError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

h = bytes.fromhex
# RFC 6962 reference vectors (certificate-transparency / Go internal/tlog test data).
LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]


def _tree(n: int) -> MerkleTree:
    return MerkleTree(leaf_hash(i.to_bytes(4, "big")) for i in range(n))


def _naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 6962 §2.1 MTH, written straight from the definition (no caching, no shared code path)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_naive_mth(leaves[:k]), _naive_mth(leaves[k:]))


def test_rfc6962_roots_for_every_prefix() -> None:
    tree = MerkleTree(leaf_hash(h(x)) for x in LEAVES)
    assert [tree.root(n).hex() for n in range(1, 9)] == ROOTS
    assert tree.root(0) == EMPTY_ROOT == hashlib.sha256(b"").digest()


def test_rfc6962_inclusion_vector() -> None:
    tree = MerkleTree(leaf_hash(h(x)) for x in LEAVES)
    expected = [
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [p.hex() for p in tree.inclusion_proof(5, 8)] == expected
    assert [p.hex() for p in tree.inclusion_proof(2, 3)] == [ROOTS[1]]
    verify_inclusion(5, 8, leaf_hash(h(LEAVES[5])), [h(x) for x in expected], h(ROOTS[7]))
    with pytest.raises(ProofError):
        verify_inclusion(4, 8, leaf_hash(h(LEAVES[5])), [h(x) for x in expected], h(ROOTS[7]))


def test_rfc6962_consistency_vectors() -> None:
    tree = MerkleTree(leaf_hash(h(x)) for x in LEAVES)
    proof = tree.consistency_proof(6, 8)
    assert [p.hex() for p in proof] == [
        "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
        "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ]
    assert [p.hex() for p in tree.consistency_proof(2, 5)] == [
        "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
        "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ]
    verify_consistency(6, 8, proof, h(ROOTS[5]), h(ROOTS[7]))
    with pytest.raises(ProofError):
        verify_consistency(6, 8, proof, h(ROOTS[4]), h(ROOTS[7]))


@pytest.mark.parametrize("n", [1, 2, 3, 5, 7, 8, 13, 64, 100, 257])
def test_roots_and_inclusion_paths_match_pymerkle(n: int) -> None:
    """pymerkle (an independent RFC 6962 implementation) agrees on every root and audit path."""
    reference = pymerkle.InmemoryTree(algorithm="sha256")
    ours = MerkleTree()
    for i in range(n):
        data = f"entry-{i}".encode()
        reference.append_entry(data)
        ours.append(leaf_hash(data))
    for size in {1, n // 2 or 1, n}:
        assert ours.root(size) == reference.get_root(size)
    for index in range(0, n, max(1, n // 17)):
        # pymerkle is 1-based and prepends the leaf hash to the RFC 9162 path
        theirs = reference.prove_inclusion(index + 1, n).path
        assert theirs[0] == ours.leaf(index)
        assert ours.inclusion_proof(index, n) == list(theirs[1:])


def test_root_matches_the_definition_and_caching_is_invisible() -> None:
    tree = _tree(200)
    leaves = [tree.leaf(i) for i in range(200)]
    for size in (1, 2, 31, 64, 65, 127, 128, 199, 200):
        assert tree.root(size) == _naive_mth(leaves[:size])
    tree.extend(leaf_hash(b"more") for _ in range(3))
    assert tree.root() == _naive_mth([*leaves, *(leaf_hash(b"more") for _ in range(3))])


def test_every_inclusion_and_consistency_proof_verifies_up_to_48() -> None:
    tree = _tree(48)
    for n in range(1, 49):
        root = tree.root(n)
        for i in range(n):
            verify_inclusion(i, n, tree.leaf(i), tree.inclusion_proof(i, n), root)
        for m in range(n + 1):
            verify_consistency(m, n, tree.consistency_proof(m, n), tree.root(m), root)


def test_tampered_proofs_fail() -> None:
    tree = _tree(21)
    proof = tree.inclusion_proof(6, 21)
    root = tree.root(21)
    for position in range(len(proof)):
        bad = list(proof)
        bad[position] = bytes(32)
        with pytest.raises(ProofError):
            verify_inclusion(6, 21, tree.leaf(6), bad, root)
    with pytest.raises(ProofError):
        verify_inclusion(6, 21, tree.leaf(6), proof[:-1], root)
    with pytest.raises(ProofError):
        verify_inclusion(6, 21, tree.leaf(6), [*proof, bytes(32)], root)
    with pytest.raises(ProofError):  # a tree of 40 is deeper: the same path cannot reach a head
        verify_inclusion(6, 40, tree.leaf(6), proof, root)
    consistency = tree.consistency_proof(9, 21)
    for position in range(len(consistency)):
        bad = list(consistency)
        bad[position] = bytes(32)
        with pytest.raises(ProofError):
            verify_consistency(9, 21, bad, tree.root(9), root)


def test_a_forked_log_is_not_consistent() -> None:
    honest = _tree(10)
    forked = _tree(7)
    forked.extend([leaf_hash(b"rewritten history"), leaf_hash(b"x"), leaf_hash(b"y")])
    proof = forked.consistency_proof(8, 10)
    with pytest.raises(ProofError, match="forked"):
        verify_consistency(8, 10, proof, honest.root(8), forked.root(10))
    with pytest.raises(ProofError, match="shrank"):
        verify_consistency(10, 8, [], honest.root(10), honest.root(8))
    with pytest.raises(ProofError, match="forked"):
        verify_consistency(10, 10, [], honest.root(10), forked.root(10))


def test_out_of_range_requests_are_proof_errors() -> None:
    tree = _tree(5)
    for call in (
        lambda: tree.inclusion_proof(5, 5),
        lambda: tree.inclusion_proof(0, 6),
        lambda: tree.consistency_proof(6, 5),
        lambda: tree.root(6),
        lambda: root_from_inclusion_proof(3, 3, tree.leaf(0), []),
    ):
        with pytest.raises(ProofError):
            call()


@pytest.mark.property
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_property_random_sizes(n: int, data: st.DataObject) -> None:
    tree = _tree(n)
    index = data.draw(st.integers(0, n - 1))
    old = data.draw(st.integers(0, n))
    verify_inclusion(index, n, tree.leaf(index), tree.inclusion_proof(index, n), tree.root(n))
    verify_consistency(old, n, tree.consistency_proof(old, n), tree.root(old), tree.root(n))


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(
    index=st.integers(-3, 2**64),
    size=st.integers(-3, 2**64),
    old=st.integers(-3, 2**64),
    proof=st.lists(st.binary(min_size=0, max_size=40), max_size=70),
)
def test_property_arbitrary_proofs_only_raise_proof_error(
    index: int, size: int, old: int, proof: list[bytes]
) -> None:
    root = hashlib.sha256(b"root").digest()
    with pytest.raises(ProofError):
        verify_inclusion(index, size, leaf_hash(b"x"), proof, root)
    try:
        verify_consistency(old, size, proof, root, hashlib.sha256(b"other").digest())
    except ProofError:
        pass
    else:
        assert old == 0 and not proof and 0 <= size  # only the trivial proof from the empty tree passes
