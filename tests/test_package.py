"""Package walk and the OMS root digest (must equal what OpenSSF model-signing computes)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from modelcert.errors import PackageError
from modelcert.limits import DEFAULT_LIMITS
from modelcert.package import ModelPackage, oms_root_digest
from modelcert.scan import scan_paths


def _make_tree(root: Path) -> None:
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "a.txt").write_text("a\n")
    (root / "B.txt").write_text("B\n")
    (root / "sub" / "b.bin").write_bytes(b"\x00\x01")
    (root / "é.txt").write_text("accent\n")
    (root / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (root / ".gitattributes").write_text("*.bin filter=lfs\n")


def test_walk_lists_regular_files_sorted_by_code_point_and_ignores_oms_defaults(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    package = ModelPackage.open(tmp_path, DEFAULT_LIMITS)
    assert [f.relpath for f in package.files] == ["B.txt", "a.txt", "sub/b.bin", "é.txt"]
    assert ".git" in package.ignored and ".gitattributes" in package.ignored


def test_root_digest_is_sha256_of_concatenated_raw_digests(tmp_path: Path) -> None:
    _make_tree(tmp_path)
    expected = hashlib.sha256()
    for rel in ["B.txt", "a.txt", "sub/b.bin", "é.txt"]:
        expected.update(hashlib.sha256((tmp_path / rel).read_bytes()).digest())
    report = scan_paths([tmp_path])
    assert report.root_digest == expected.hexdigest()
    digests = {rel: hashlib.sha256((tmp_path / rel).read_bytes()).digest() for rel in ["a.txt", "B.txt"]}
    assert oms_root_digest(digests) == hashlib.sha256(digests["B.txt"] + digests["a.txt"]).hexdigest()


def test_root_digest_equals_model_signing_subject(tmp_path: Path) -> None:
    hashing = pytest.importorskip("model_signing.hashing")
    _make_tree(tmp_path)
    (tmp_path / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 + 17))
    manifest = hashing.hash(tmp_path)
    oms = hashlib.sha256()
    for descriptor in manifest.resource_descriptors():
        oms.update(descriptor.digest.digest_value)
    assert scan_paths([tmp_path]).root_digest == oms.hexdigest()
    # a single file too
    single = tmp_path / "a.txt"
    one = hashlib.sha256(next(iter(hashing.hash(single).resource_descriptors())).digest.digest_value)
    assert scan_paths([single]).root_digest == one.hexdigest()


def test_symlinks_are_never_followed_and_are_reported(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    outside.write_text("secret")
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x00" * 8)
    (model / "escape.onnx_data").symlink_to(outside)
    (model / "inner").symlink_to(model / "weights.bin")
    report = scan_paths([model])
    by_path = {a.path: a for a in report.files}
    assert by_path["escape.onnx_data"].verdict.value == "unsafe"
    assert by_path["escape.onnx_data"].findings[0].check_id == "MC204"
    assert by_path["inner"].verdict.value == "suspicious"
    # links are not part of the digest (OMS refuses them); only the regular file is
    assert report.inputs[0].file_count == 1


def test_fifo_is_reported_not_opened(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe")
    report = scan_paths([tmp_path])
    assert [f.findings[0].check_id for f in report.files] == ["MC206"]


def test_missing_path_and_symlink_root_are_errors(tmp_path: Path) -> None:
    with pytest.raises(PackageError):
        ModelPackage.open(tmp_path / "nope", DEFAULT_LIMITS)
    (tmp_path / "link").symlink_to(tmp_path)
    with pytest.raises(PackageError):
        ModelPackage.open(tmp_path / "link", DEFAULT_LIMITS)
