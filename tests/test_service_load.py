"""Load and fault tests against a real `modelcert serve` on 127.0.0.1 (bounded, loopback only).

- 50 concurrent publishes: every certificate logged exactly once, indexes contiguous, every answer's
  inclusion proof verifies and every answer's checkpoint is consistent with the final one.
- SIGKILL mid-publish: after a restart the log is consistent with the checkpoint seen before the kill,
  every acknowledged certificate survived, and no partial entry exists (rows and log agree 1:1).
Both run on SQLite, and on PostgreSQL when MODELCERT_TEST_POSTGRES_URL is set.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from modelcert.certificate.dsse import Envelope
from modelcert.certificate.jcs import canonicalize
from modelcert.certificate.keys import SigningKey
from modelcert.registry.audit import check_consistency, check_inclusion, log_verifier, open_checkpoint
from modelcert.registry.client import RegistryClient, RegistryHTTPError
from modelcert.registry.log import MerkleTree, leaf_hash
from modelcert.registry.store import open_store
from test_registry_support import ServerProcess, make_model, many_certificates, store_url  # noqa: F401

pytestmark = pytest.mark.slow
TOKEN = "load-test-admin-token"


def _server(tmp_path: Path, url: str) -> ServerProcess:
    extra = ("--rate-limit", "100000", "--rate-burst", "1000", "--database", url)
    return ServerProcess(tmp_path / "registry", TOKEN, *extra).start()


def _bootstrap(server: ServerProcess) -> SigningKey:
    key = SigningKey.generate()
    with server.client(admin=True) as admin:
        admin.register_key(key.verifying.public_pem(), "certifier", "Lab One", "DE")
    return key


def _publish(server: ServerProcess, key: SigningKey, envelope: Envelope) -> dict[str, Any]:
    with RegistryClient(server.url, key=key, timeout=60) as client:
        return client.publish_certificate(envelope)


def _check_log(server: ServerProcess, url: str) -> tuple[Any, list[dict[str, Any]], MerkleTree]:
    """Every entry's leaf recomputes from its content, and together they make the checkpoint's root."""
    with server.client() as client:
        log_key = log_verifier(client.info()["logVerifierKey"])
        latest = open_checkpoint(client.checkpoint(), log_key).checkpoint
        entries: list[dict[str, Any]] = []
        while len(entries) < latest.size:
            entries += client.entries(len(entries), latest.size)
        assert [e["index"] for e in entries] == list(range(latest.size))
        last = entries[-1]
        check_inclusion(
            {**client.inclusion_proof(last["index"], latest.size), "entry": last["entry"]}, latest
        )
    tree = MerkleTree(leaf_hash(canonicalize(e["entry"])) for e in entries)
    assert tree.root() == latest.root_hash
    store = open_store(url)
    try:
        certificates = store.recent_certificates(1000)
        logged = [e for e in entries if e["kind"] == "modelcert.certificate"]
        # rows and log entries agree one to one: no row without its entry, no entry without its row
        assert sorted(c.log_index for c in certificates) == [e["index"] for e in logged]
        assert sorted(c.envelope_sha256 for c in certificates) == sorted(
            e["entry"]["envelopeSha256"] for e in logged
        )
    finally:
        store.close()
    return latest, entries, tree


def test_fifty_concurrent_publishes_are_each_logged_once(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    server = _server(tmp_path, store_url)
    try:
        key = _bootstrap(server)
        envelopes, _ = many_certificates(make_model(tmp_path / "m"), key, 50)
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(lambda e: _publish(server, key, e), envelopes))
        seconds = time.monotonic() - started
        latest, entries, tree = _check_log(server, store_url)
        assert latest.size == 1 + 50
        indexes = Counter(a["logIndex"] for a in answers)
        assert sorted(indexes) == list(range(1, 51)) and set(indexes.values()) == {1}
        logged = Counter(
            e["entry"]["envelopeSha256"] for e in entries if e["kind"] == "modelcert.certificate"
        )
        assert set(logged.values()) == {1} and len(logged) == 50
        with server.client() as client:
            log_key = log_verifier(client.info()["logVerifierKey"])
            first = open_checkpoint(answers[0]["inclusionProof"]["checkpoint"], log_key).checkpoint
            proof = client.consistency_proof(first.size, latest.size)
            check_consistency(first, latest, [bytes.fromhex(h) for h in proof["hashes"]])
        for answer in answers:
            seen = open_checkpoint(answer["inclusionProof"]["checkpoint"], log_key).checkpoint
            check_inclusion(answer, seen)
            assert tree.root(seen.size) == seen.root_hash  # every checkpoint handed out is a prefix
        assert seconds < 60, f"50 publishes took {seconds:.1f} s"
    finally:
        server.stop()


def test_sigkill_mid_publish_leaves_a_consistent_log(tmp_path: Path, store_url: str) -> None:  # noqa: F811
    server = _server(tmp_path, store_url)
    restarted: ServerProcess | None = None
    try:
        key = _bootstrap(server)
        envelopes, _ = many_certificates(make_model(tmp_path / "m"), key, 41)
        spare = envelopes.pop()
        for envelope in envelopes[:5]:
            _publish(server, key, envelope)
        with server.client() as client:
            log_key = log_verifier(client.info()["logVerifierKey"])
            before = open_checkpoint(client.checkpoint(), log_key).checkpoint
        acknowledged: list[dict[str, Any]] = []
        lock = threading.Lock()

        def publish(envelope: Envelope) -> None:
            try:
                answer = _publish(server, key, envelope)
            except RegistryHTTPError:
                return  # the server died under this request
            with lock:
                acknowledged.append(answer)

        threads = [threading.Thread(target=publish, args=(e,)) for e in envelopes[5:]]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()  # mid-publish: other requests are in flight
        for thread in threads:
            thread.join(timeout=60)
        assert 5 <= len(acknowledged) < 35, "the kill should land while publishes are in flight"

        restarted = ServerProcess(server.data_dir, TOKEN, *server.extra).start()
        latest, entries, _ = _check_log(restarted, store_url)
        with restarted.client() as client:
            proof = client.consistency_proof(before.size, latest.size)
        check_consistency(before, latest, [bytes.fromhex(h) for h in proof["hashes"]])
        present = {e["entry"]["envelopeSha256"] for e in entries if e["kind"] == "modelcert.certificate"}
        assert {a["certificate"]["envelopeSha256"] for a in acknowledged} <= present  # acknowledged = durable
        assert 1 + 5 + len(acknowledged) <= latest.size <= 1 + 40
        after = _publish(restarted, key, spare)  # the log keeps growing normally after the crash
        assert after["logIndex"] == latest.size
    finally:
        server.kill()
        if restarted is not None:
            restarted.stop()
