"""Large files hashed in child interpreters: right digests, errors kept, fallbacks when a child fails."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modelcert import background_digests as bg
from modelcert.background_digests import BackgroundDigests, partition


def _files(tmp_path: Path, sizes: list[int]) -> list[Path]:
    paths = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.bin"
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def _expected(path: Path) -> bytes:
    return hashlib.sha256(path.read_bytes()).digest()


def test_partition_balances_by_size_and_keeps_every_index() -> None:
    groups = partition([50, 10, 40, 30, 20], 2)
    assert sorted(i for g in groups for i in g) == [0, 1, 2, 3, 4]
    totals = sorted(sum([50, 10, 40, 30, 20][i] for i in g) for g in groups)
    assert totals == [70, 80]
    assert partition([], 3) == []
    assert partition([7], 4) == [[0]]


@pytest.mark.parametrize("fork", [True, False])
def test_children_hash_every_file_correctly(tmp_path: Path, fork: bool) -> None:
    paths = _files(tmp_path, [3 * 1024 * 1024 + 7, 1, 0, 2 * 1024 * 1024])
    with BackgroundDigests(paths, [p.stat().st_size for p in paths], workers=2, fork=fork) as digests:
        assert not digests.in_threads
        got = {p: digests.future(p).result(timeout=60) for p in paths}
    assert got == {p: _expected(p) for p in paths}


_FORK_PROBE = """
import hashlib, sys
from pathlib import Path
from modelcert.background_digests import BackgroundDigests
paths = [Path(p) for p in sys.argv[1:]]
with BackgroundDigests(paths, [p.stat().st_size for p in paths], workers=2) as digests:
    got = [digests.future(p).result(timeout=60) for p in paths]
    print(",".join(digests.how))
assert got == [hashlib.sha256(p.read_bytes()).digest() for p in paths], "wrong digest"
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="hashers fork on Linux only")
def test_a_single_threaded_process_forks_its_hashers(tmp_path: Path) -> None:
    """pytest workers run helper threads, so the fork path is checked in a fresh process."""
    paths = _files(tmp_path, [70_000, 50_000, 60_000])
    done = subprocess.run(
        [sys.executable, "-c", _FORK_PROBE, *map(str, paths)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "fork,fork"


def test_unreadable_file_is_an_oserror_not_a_digest(tmp_path: Path) -> None:
    (good,) = _files(tmp_path, [1000])
    missing = tmp_path / "gone.bin"
    with BackgroundDigests([good, missing], [1000, 1000], workers=1, fork=False) as digests:
        assert digests.future(good).result(timeout=60) == _expected(good)
        with pytest.raises(OSError) as caught:
            digests.future(missing).result(timeout=60)
    assert caught.value.errno == 2


def test_without_an_interpreter_files_hash_in_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "")
    paths = _files(tmp_path, [5000, 6000])
    with BackgroundDigests(paths, [5000, 6000], workers=2, fork=False) as digests:
        assert digests.in_threads
        assert [digests.future(p).result(timeout=60) for p in paths] == [_expected(p) for p in paths]


@pytest.mark.parametrize(
    "child_code",
    [
        "import sys; sys.stdout.write('0 nothex\\n')",  # malformed digest
        "import sys; sys.stdout.write('9 ' + '0' * 64 + '\\n')",  # index out of range
        "import os; os._exit(3)",  # dies before answering
        "import sys; sys.stdout.write('0 ' + 'ab' * 32 + '\\n0 ' + 'cd' * 32 + '\\n')",  # wrong, then repeats
    ],
)
def test_a_child_that_misbehaves_never_yields_a_wrong_digest_for_a_missing_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, child_code: str
) -> None:
    monkeypatch.setattr(bg, "_CHILD_CODE", child_code)
    paths = _files(tmp_path, [4001, 4000])  # largest first: the child's index 0 is paths[0]
    with BackgroundDigests(paths, [4001, 4000], workers=1, fork=False) as digests:
        results = [digests.future(p).result(timeout=60) for p in paths]
    # The line the child did deliver for index 0 is trusted (it is our code); every path it did not
    # answer for is hashed here.
    assert results[1] == _expected(paths[1])
    if "ab" not in child_code:
        assert results[0] == _expected(paths[0])


def test_closing_early_ends_the_children_and_fails_what_is_pending(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bg, "_CHILD_CODE", "import time; time.sleep(30)")
    paths = _files(tmp_path, [100])
    digests = BackgroundDigests(paths, [100], workers=1, fork=False)
    digests.close()
    assert digests.future(paths[0]).done()
    with pytest.raises(RuntimeError, match="abandoned"):
        digests.future(paths[0]).result(timeout=0)


def test_pending_digest_runs_callbacks_once_and_keeps_the_first_outcome() -> None:
    pending = bg.PendingDigest()
    calls: list[str] = []
    pending.add_done_callback(lambda: calls.append("before"))
    with pytest.raises(TimeoutError):
        pending.result(timeout=0)
    pending.set_result(b"\x01" * 32)
    pending.set_exception(OSError("late"))  # ignored: already settled
    pending.add_done_callback(lambda: calls.append("after"))
    assert pending.result() == b"\x01" * 32
    assert calls == ["before", "after"]
