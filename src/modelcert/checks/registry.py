"""The built-in analyzers, by format, and every check class (for docs and suppression by ID)."""

from __future__ import annotations

import importlib
from functools import cache

from modelcert.checks.base import CHECKS, Analyzer, AnalyzerSpec, Check

# One module per family; each exports ANALYZERS: tuple[AnalyzerSpec, ...].
_MODULES = (
    "modelcert.checks.core",
    "modelcert.checks.pickle_code",
    "modelcert.checks.archive",
    "modelcert.checks.pytorch",
    "modelcert.checks.numpy_arrays",
    "modelcert.checks.weights",
    "modelcert.checks.templates",
    "modelcert.checks.graph",
    "modelcert.checks.keras",
    "modelcert.checks.savedmodel",
    "modelcert.checks.remote_code",
)


@cache
def analyzers() -> dict[str, Analyzer]:
    table: dict[str, Analyzer] = {}
    for name in _MODULES:
        module = importlib.import_module(name)
        specs: tuple[AnalyzerSpec, ...] = getattr(module, "ANALYZERS", ())
        for spec in specs:
            for fmt in spec.formats:
                if fmt in table:
                    raise RuntimeError(f"format {fmt!r} has two analyzers ({name})")
                table[fmt] = spec.analyze
    return table


def all_checks() -> dict[str, type[Check]]:
    analyzers()  # importing the modules registers their checks
    return dict(sorted(CHECKS.items()))
