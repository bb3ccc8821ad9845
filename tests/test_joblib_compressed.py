"""joblib's compressed dumps (compress=zlib/lzma/gzip/bz2/xz/lz4): read through, judged as pickles."""

from __future__ import annotations

import bz2
import gzip
import lzma
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from modelcert.findings import Verdict
from modelcert.scan import scan_paths

PAYLOAD = b"\x80\x02cposix\nsystem\nq\x00X\x14\x00\x00\x00echo modelcert-testq\x01\x85q\x02Rq\x03."

COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "zlib": zlib.compress,
    "lzma": lambda d: lzma.compress(d, format=lzma.FORMAT_ALONE),
    "gzip": gzip.compress,
    "bz2": bz2.compress,
    "xz": lzma.compress,
}


@pytest.mark.parametrize("codec", sorted(COMPRESSORS))
def test_compressed_payload_pickle_is_unsafe(tmp_path: Path, codec: str) -> None:
    (tmp_path / f"model-{codec}.joblib").write_bytes(COMPRESSORS[codec](PAYLOAD))
    artifact = scan_paths([tmp_path]).files[0]
    assert artifact.verdict is Verdict.UNSAFE, (codec, artifact.format, artifact.skipped_reason)


@pytest.mark.parametrize("codec", ["zlib", "lzma", "gzip", "bz2", "xz", "lz4"])
def test_real_joblib_compressed_estimator_is_clean(tmp_path: Path, codec: str) -> None:
    joblib = pytest.importorskip("joblib")
    linear_model = pytest.importorskip("sklearn.linear_model")
    np = pytest.importorskip("numpy")
    if codec == "lz4":
        pytest.importorskip("lz4")
    model = linear_model.LogisticRegression().fit(np.random.default_rng(0).random((20, 3)), np.arange(20) % 2)
    joblib.dump(model, tmp_path / f"model-{codec}.joblib", compress=codec)
    artifact = scan_paths([tmp_path]).files[0]
    assert artifact.verdict is Verdict.CLEAN, [f.message for f in artifact.all_findings()]
    assert artifact.members and artifact.members[0].format in {"pickle", "joblib"}
