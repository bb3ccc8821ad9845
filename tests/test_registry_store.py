"""The store on SQLite and PostgreSQL: migrations, atomic logged writes, ordering, replay protection."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from modelcert.registry import Conflict, NotFound
from modelcert.registry import entries as E
from modelcert.registry.lines import NewRelease, add_release, new_line
from modelcert.registry.log import MerkleTree, leaf_hash
from modelcert.registry.records import CheckpointRecord, FeedRecord, KeyRecord
from modelcert.registry.schema import metadata
from modelcert.registry.store import SqlStore, migrate, open_store
from test_registry_support import store_url  # noqa: F401 - the fixture

AT = datetime(2026, 6, 1, tzinfo=UTC)
LINE = "pkg:huggingface/acme/widget"


def _key(n: int) -> KeyRecord:
    return KeyRecord(
        f"{n:064x}", "publisher", f"pub{n}", None, "ed25519", "PEM", True, "2026-06-01T00:00:00Z"
    )


def _key_entry(n: int) -> dict[str, Any]:
    return E.key_entry(
        at=AT,
        action="add",
        key_id=f"{n:064x}",
        role="publisher",
        name=f"pub{n}",
        jurisdiction=None,
        by="admin",
    )


@pytest.fixture
def store(store_url: str) -> SqlStore:  # noqa: F811 - pytest fixture injection
    opened = open_store(store_url)
    yield opened  # type: ignore[misc]
    opened.close()


def test_migrations_create_exactly_the_schema_and_are_idempotent(store: SqlStore) -> None:
    migrate(store.engine)  # a second startup is a no-op
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    assert store.log_size() == 0


def test_logged_writes_append_in_order_with_leaf_hashes(store: SqlStore) -> None:
    logged = [store.add_key(_key(i), _key_entry(i)) for i in range(5)]
    assert [e.index for e in logged] == [0, 1, 2, 3, 4]
    assert store.log_size() == 5
    rows = store.log_entries(0, 10)
    assert [r.body for r in rows] == [E.encode(_key_entry(i)) for i in range(5)]
    assert store.leaf_hashes(0, 5) == [leaf_hash(r.body) for r in rows]
    assert store.get_key(f"{3:064x}") == _key(3).__class__(**{**_key(3).__dict__, "log_index": 3})


def test_a_refused_write_stores_nothing(store: SqlStore) -> None:
    store.add_key(_key(1), _key_entry(1))
    with pytest.raises(Conflict):
        store.add_key(_key(1), _key_entry(1))

    def failing(_state: Any) -> Any:
        raise NotFound("mutation refused after the head row was locked")

    with pytest.raises(NotFound):
        store.update_line(LINE, failing)
    assert store.log_size() == 1
    assert store.get_line(LINE) is None


def test_line_updates_and_digest_lookup(store: SqlStore) -> None:
    def release(seq: int):  # type: ignore[no-untyped-def]
        def mutate(state: Any) -> Any:
            state = state or new_line(LINE, "ab" * 32)
            nxt, change = add_release(state, NewRelease(seq, f"1.{seq}", f"{seq:064x}"), AT)
            return nxt, E.line_status_entry(
                at=AT,
                line=LINE,
                line_status_version=nxt.version,
                line_status_digest=nxt.digest(),
                change=change,
                signer_key_ids=[],
            )

        return mutate

    state, entry = store.update_line(LINE, release(1))
    state, entry = store.update_line(LINE, release(2))
    assert (state.version, entry.index) == (2, 1)
    assert store.get_line(LINE) == state
    assert [s.line for s in store.lines_for_digest(f"{2:064x}")] == [LINE]
    assert [s.line for s in store.search_lines("ACME", 10)] == [LINE]
    assert [s.line for s in store.search_lines(f"{1:064x}", 10)] == [LINE]
    assert store.search_lines("100%_", 10) == []  # LIKE wildcards are escaped


def test_nonces_are_single_use(store: SqlStore) -> None:
    assert store.use_nonce("k" * 64, "nonce-aaaaaaaaaaaaaaaa", 2_000, 1_000)
    assert not store.use_nonce("k" * 64, "nonce-aaaaaaaaaaaaaaaa", 2_000, 1_000)
    assert store.use_nonce("j" * 64, "nonce-aaaaaaaaaaaaaaaa", 2_000, 1_000)  # per key
    assert store.use_nonce("k" * 64, "nonce-bbbbbbbbbbbbbbbb", 2_000, 3_000)  # purges expired ones


def test_checkpoints_and_cosignatures(store: SqlStore) -> None:
    store.save_checkpoint(CheckpointRecord(3, bytes(32), "note\n\n— x AAAA\n", "t"))
    store.save_checkpoint(CheckpointRecord(3, bytes(32), "note\n\n— x AAAA\n", "t"))  # idempotent
    store.save_checkpoint(CheckpointRecord(5, bytes(32), "later\n\n— x AAAA\n", "t"))
    store.add_cosignature(5, "w" * 64, "— w1 BBBB\n", 10)
    store.add_cosignature(5, "w" * 64, "— w1 CCCC\n", 11)  # a witness's newer cosignature replaces its older
    latest = store.latest_checkpoint()
    assert latest is not None and latest.size == 5
    assert latest.full_note() == "later\n\n— x AAAA\n— w1 CCCC\n"
    assert store.get_checkpoint(4) is None


def test_feed_entries(store: SqlStore) -> None:
    record = FeedRecord("ab" * 32, "MC101", "critical", "00" * 32, "file", "k" * 64, "t")
    entry = E.known_bad_entry(
        at=AT,
        sha256="ab" * 32,
        rule_id="MC101",
        severity="critical",
        commitment="00" * 32,
        reporter_key_id="k" * 64,
    )
    store.add_feed_entry(record, entry)
    with pytest.raises(Conflict):
        store.add_feed_entry(record, entry)
    assert [(f.sha256, f.log_index) for f in store.feed_entries()] == [("ab" * 32, 0)]


def test_concurrent_writers_get_distinct_consecutive_indexes(store: SqlStore) -> None:
    results: list[int] = []
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            results.append(store.add_key(_key(n), _key_entry(n)).index)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sorted(results) == list(range(24))
    tree = MerkleTree(store.leaf_hashes(0, 24))
    assert tree.root() == MerkleTree(leaf_hash(r.body) for r in store.log_entries(0, 24)).root()
