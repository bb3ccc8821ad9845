"""`getattr(AllowedClass, 'name')` is a dotted import spelled as a call; everything else stays dangerous.

Python pickles a class's method through getattr (zoneinfo.ZoneInfo pickles as
`getattr(ZoneInfo, '_unpickle')(key, 1)`), so a datetime with a time zone used to come out unsafe.
The fetch is judged by what the fetched value does; any getattr that is not such a fetch, and every
use of a fetched attribute that would act, is still reported.
"""

from __future__ import annotations

import datetime
import pickle
import zoneinfo

import pytest

from builders import pickles as P
from modelcert.checks.callables import ALLOWED, judge_path
from modelcert.findings import Verdict

G = P.op_global  # import module.name (STACK_GLOBAL at protocol 4)



def _fetch(module: str, cls: str, name: str) -> bytes:
    return G("builtins", "getattr") + G(module, cls) + P.op_str(name) + b"\x86R"


def _verdict(body: bytes) -> Verdict:
    return P.scan(b"\x80\x04" + body + b".", "model.pkl").verdict


@pytest.mark.parametrize("proto", [2, 4, 5])
def test_time_zone_aware_datetimes_are_clean(proto: int) -> None:
    tz = zoneinfo.ZoneInfo("Europe/Paris")
    data = pickle.dumps({"saved": datetime.datetime(2026, 1, 2, 3, 4, tzinfo=tz), "tz": tz}, protocol=proto)
    report = P.scan(data, "meta.pkl")
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]


def test_a_fetched_public_value_that_is_never_used_is_clean() -> None:
    assert _verdict(_fetch("argparse", "Namespace", "x")) is Verdict.CLEAN


_OBJECT = G("builtins", "object")
_WRITE = _fetch("pathlib", "PosixPath", "write_text")
_PATH = G("pathlib", "PosixPath") + P.op_str("/tmp/mc-never") + b"\x85R"
_IMPORT_OS = G("builtins", "__import__") + P.op_str("os") + b"\x85R"
_REUSED = G("builtins", "getattr") + b"\x94" + G("argparse", "Namespace") + P.op_str("x") + b"\x86R0"
_GLOBALS = G("builtins", "globals") + b")R"
_SET_CLASS = b"}" + P.op_str("__class__") + P.op_str("y") + b"sb"

STILL_REPORTED = {
    "calling a fetched method that writes a file": _WRITE + _PATH + P.op_str("data") + b"\x86R",
    "a fetched method as a defaultdict factory": (
        G("collections", "defaultdict") + _fetch("pathlib", "Path", "unlink") + b"\x85R"
    ),
    "a fetched attribute as copyreg's class": (
        G("copyreg", "_reconstructor") + _fetch("pathlib", "Path", "home") + _OBJECT + b"N\x87R"
    ),
    "BUILD swapping the class of a fetched value": _fetch("argparse", "Namespace", "x") + _SET_CLASS,
    "a private name fetched": _fetch("collections", "OrderedDict", "__init__") + b")R",
    "a base that is not allowlisted": _fetch("os", "path", "join"),
    "a computed base": G("builtins", "getattr") + _IMPORT_OS + P.op_str("system") + b"\x86R",
    "the same getattr reused for a computed fetch": (
        _REUSED + b"h\x00" + _GLOBALS + P.op_str("exec") + b"\x86R"
    ),
    "getattr handed around as a value": (
        G("collections", "defaultdict") + G("builtins", "getattr") + b"\x85R"
    ),
}


@pytest.mark.parametrize("name", sorted(STILL_REPORTED))
def test_everything_but_a_static_fetch_is_still_reported(name: str) -> None:
    assert _verdict(STILL_REPORTED[name]) is not Verdict.CLEAN, name


def test_benign_value_types_added_to_the_allowlist_stay_narrow() -> None:
    allowed = ("zoneinfo.ZoneInfo._unpickle", "pandas.DataFrame", "pandas.arrays.StringArray", "array.array")
    refused = ("pandas.read_pickle", "pandas.eval", "pandas.DataFrame.query", "pandas.io.pickle.read_pickle")
    assert all(judge_path(path).kind == ALLOWED for path in allowed)
    assert not any(judge_path(path).kind == ALLOWED for path in refused)
