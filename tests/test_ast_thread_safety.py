"""Python source is parsed one file at a time process-wide (CPython 3.11 AST converter race).

Seen in the corpus test as "python analyzer failed: SystemError: AST constructor recursion depth
mismatch (before=39, after=33)" on a benign modelling file: the scanner analyses files on a thread
pool, and a garbage collection inside `ast.parse` can run Python code (`__del__`) that hands the GIL
to another thread parsing too; the converter's depth counter is shared between them.
"""

from __future__ import annotations

import gc
import re
import threading
import time
from pathlib import Path

from modelcert.formats.pycode import parse_ast, parse_literal

SRC = Path(__file__).resolve().parents[1] / "src" / "modelcert"

SOURCE = "\n".join(
    f"class Layer{i}(Base):\n    def forward(self, x):\n        return [(x + {i}) * y for y in range({i})]\n"
    for i in range(200)
)


class _SwitchOnCollect:
    """A cycle only the collector frees; its finaliser releases the GIL mid-allocation."""

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        time.sleep(0)


def test_parsing_from_many_threads_while_the_collector_switches_them_never_fails() -> None:
    errors: list[BaseException] = []
    old = gc.get_threshold()
    gc.set_threshold(50, 1, 1)

    def work() -> None:
        for _ in range(15):
            for _ in range(20):
                _SwitchOnCollect()
            try:
                parse_ast(SOURCE)
                parse_literal("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }")
            except BaseException as exc:  # the point is to see any failure
                errors.append(exc)

    try:
        threads = [threading.Thread(target=work) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        gc.set_threshold(*old)
    assert not errors, errors[:3]


def test_no_module_calls_ast_parse_around_the_lock() -> None:
    direct = re.compile(r"\bast\.(parse|literal_eval)\(")
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if path.name != "pycode.py" and direct.search(path.read_text(encoding="utf-8"))
    ]
    assert not offenders, offenders
