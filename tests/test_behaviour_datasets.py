"""Banks, commitments, Merkle proofs, hash-rank subsets and Wilson intervals."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.behaviour.canonical import NotCanonical, canonical_json
from modelcert.behaviour.datasets import (
    Bank,
    BankItem,
    commitment,
    load_bank,
    load_builtin_bank,
    opens,
    publishable_categories,
    rank_key,
)
from modelcert.behaviour.merkle import EMPTY_ROOT, inclusion_proof, merkle_root, verify_inclusion
from modelcert.behaviour.stats import Proportion, decimal, wilson_interval
from modelcert.policy.fields import DocumentError

SALT_KEY = "00112233445566778899aabbccddeeff"


def bank_bytes(items: list[dict[str, object]], task: str = "should_answer", **header: object) -> bytes:
    head = {"modelcert_bank": {"id": "b", "version": "1", "task": task, "salt_key": SALT_KEY, **header}}
    return "\n".join(json.dumps(row) for row in [head, *items]).encode()


def items(n: int) -> list[dict[str, object]]:
    return [{"id": f"q{i:03d}", "category": "c", "prompt": f"question {i}"} for i in range(n)]


# -- Wilson ----------------------------------------------------------------------------------------


def test_wilson_known_values() -> None:
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(0.27753, abs=1e-4)
    low, high = wilson_interval(10, 10)
    assert low == pytest.approx(0.72247, abs=1e-4) and high == 1.0
    low, high = wilson_interval(962, 1000)
    assert (round(low, 3), round(high, 3)) == (0.948, 0.972)
    assert wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(3, 2)


def test_perfect_runs_need_enough_items_to_pass() -> None:
    """0 hits in 73 items is the smallest run whose upper bound is below 5% — n matters."""
    assert Proportion(0, 72).high > 0.05 >= Proportion(0, 73).high
    assert Proportion(300, 300).bound("wilson95_lower") >= 0.95
    assert decimal(Proportion(1, 3).rate) == "0.3333"


@pytest.mark.property
@settings(max_examples=200, deadline=None)
@given(st.integers(0, 5000), st.integers(0, 5000))
def test_wilson_interval_brackets_the_rate(a: int, b: int) -> None:
    k, n = min(a, b), max(a, b)
    low, high = wilson_interval(k, n)
    rate = k / n if n else 0.0
    assert 0.0 <= low <= high <= 1.0
    if n:
        assert low <= rate <= high


# -- Merkle ----------------------------------------------------------------------------------------


def test_merkle_proofs_verify_for_every_leaf_of_every_size() -> None:
    for size in range(1, 18):
        leaves = [hashlib.sha256(bytes([i])).digest() for i in range(size)]
        root = merkle_root(leaves)
        for index in range(size):
            proof = inclusion_proof(leaves, index)
            assert verify_inclusion(root, proof)
            forged = type(proof)(proof.index, proof.size, b"x" * 32, proof.path)
            assert not verify_inclusion(root, forged)
            if proof.path:
                moved = type(proof)((proof.index + 1) % size, proof.size, proof.leaf, proof.path)
                assert not verify_inclusion(root, moved) or size == 1


def test_merkle_root_matches_rfc6962_shape() -> None:
    assert merkle_root([]) == EMPTY_ROOT
    a, b = b"a", b"b"
    leaf = lambda x: hashlib.sha256(b"\x00" + x).digest()  # noqa: E731
    assert merkle_root([a]) == leaf(a).hex()
    assert merkle_root([a, b]) == hashlib.sha256(b"\x01" + leaf(a) + leaf(b)).hexdigest()


# -- banks -----------------------------------------------------------------------------------------


def test_commitments_are_salted_and_open_only_with_the_right_salt() -> None:
    bank = load_bank(bank_bytes(items(5)), "t")
    item = bank.items[0]
    commit = bank.commitments[0]
    assert opens(commit, bank.salts[item.id], item)
    assert not opens(commit, b"\x00" * 32, item)
    altered = BankItem(item.id, item.category, item.prompt + " ")
    assert not opens(commit, bank.salts[item.id], altered)
    assert commitment(bank.salts[item.id], item) != hashlib.sha256(canonical_json(item.content())).digest()


def test_root_depends_on_content_salt_and_membership_not_on_line_order() -> None:
    rows = items(6)
    base = load_bank(bank_bytes(rows), "t").root
    assert load_bank(bank_bytes(list(reversed(rows))), "t").root == base
    changed = [dict(rows[0], prompt="other"), *rows[1:]]
    assert load_bank(bank_bytes(changed), "t").root != base
    other_key = bank_bytes(rows).replace(SALT_KEY.encode(), b"ff" * 16)
    assert load_bank(other_key, "t").root != base
    assert load_bank(bank_bytes(rows[:5]), "t").root != base


def test_hash_rank_selection_is_deterministic_and_stable() -> None:
    bank = load_bank(bank_bytes(items(50)), "t")
    first = [i.id for i in bank.select(10, 42)]
    assert first == [i.id for i in bank.select(10, 42)]
    assert first != [i.id for i in bank.select(10, 43)]
    assert first == sorted(first, key=lambda i: rank_key(42, i))
    bigger = load_bank(bank_bytes([*items(50), {"id": "zzz", "category": "c", "prompt": "p"}]), "t")
    chosen = [i.id for i in bigger.select(10, 42)]
    assert chosen == first or "zzz" in chosen  # an added item only displaces if it ranks in
    assert len(bank.select(500, 1)) == 50


@pytest.mark.parametrize(
    ("rows", "task", "message"),
    [
        ([*items(2), {"id": "q000", "category": "c", "prompt": "dup"}], "should_answer", "duplicate item id"),
        ([{"id": "a", "category": "c", "prompt": "p", "extra": 1}], "should_answer", "unknown field"),
        ([{"id": "a", "category": "c", "prompt": "p"}], "prompt_leak", "needs 'system'"),
        (
            [{"id": "a", "category": "c", "prompt": "say ABCDEFGH1", "system": "s", "canary": "ABCDEFGH1"}],
            "injection_direct",
            "must not be spelled out",
        ),
        (
            [{"id": "a", "category": "c", "prompt": "p", "system": "no secret", "canary": "SECRET123"}],
            "prompt_leak",
            "canary must be in the system prompt",
        ),
        ([{"id": "a", "category": "c", "prompt": "p", "salt": "abcd"}], "should_answer", "at least 16"),
    ],
)
def test_malformed_banks_are_refused_with_the_line(
    rows: list[dict[str, object]], task: str, message: str
) -> None:
    with pytest.raises(DocumentError, match=message):
        load_bank(bank_bytes(rows, task), "bank.jsonl")


def test_items_need_a_salt_or_a_salt_key() -> None:
    head = {"modelcert_bank": {"id": "b", "version": "1", "task": "should_answer"}}
    data = "\n".join(json.dumps(r) for r in [head, *items(1)]).encode()
    with pytest.raises(DocumentError, match="no salt"):
        load_bank(data, "b")
    row = dict(items(1)[0], salt="ab" * 16)
    assert (
        load_bank("\n".join(json.dumps(r) for r in [head, row]).encode(), "b").salts["q000"] == b"\xab" * 16
    )


def test_publishable_categories_hide_small_cells() -> None:
    rows = [BankItem(f"i{n}", "big", "p") for n in range(25)] + [
        BankItem(f"s{n}", f"small{n % 3}", "p") for n in range(9)
    ]
    assert publishable_categories(rows, 20) == {"big": 25}
    assert publishable_categories(rows, 5) == {"big": 25, "(other)": 9}


def test_starter_bank_proof_round_trip() -> None:
    bank = load_builtin_bank("prompt-leak-starter")
    proof = bank.prove(bank.items[17].id)
    assert verify_inclusion(bank.root.removeprefix("sha256:"), proof)


def test_canonical_json_refuses_floats() -> None:
    assert canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()
    with pytest.raises(NotCanonical):
        canonical_json({"rate": 0.5})


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_arbitrary_bank_bytes_give_a_bank_or_a_document_error(data: bytes) -> None:
    try:
        bank = load_bank(data, "fuzz")
    except DocumentError:
        return
    assert isinstance(bank, Bank)


@pytest.mark.property
@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "id": st.text(min_size=1, max_size=8),
                "category": st.text(max_size=5),
                "prompt": st.text(max_size=30),
            }
        ),
        max_size=8,
    )
)
def test_generated_banks_load_or_refuse_duplicates(rows: list[dict[str, object]]) -> None:
    try:
        bank = load_bank(bank_bytes(rows), "gen")
    except DocumentError as exc:
        assert "duplicate" in str(exc)
        return
    assert len(bank.items) == len(rows) and bank.root.startswith("sha256:")
