"""The built-in analyzers, by format, and every check class (for docs and suppression by ID).

Analyzer modules are imported lazily, per format: scanning a pickle must not pay for importing
ONNX, HDF5 or 7z support (per-file CLI runs are dominated by start-up time).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from functools import cache

from modelcert.checks.base import CHECKS, Analyzer, AnalyzerSpec, Check
from modelcert.findings import Finding

# One module per family; each exports ANALYZERS: tuple[AnalyzerSpec, ...].
MODULES = (
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
    "modelcert.checks.yaml_config",
    "modelcert.checks.native_code",
    "modelcert.checks.known_bad",
    *(
        "modelcert.checks.backdoor_template",
        "modelcert.checks.backdoor_tokenizer",
        "modelcert.checks.backdoor_config",
        "modelcert.checks.backdoor_graph",
        "modelcert.checks.backdoor_lineage",
        "modelcert.checks.backdoor_evidence",
    ),
)

# Modules exporting PACKAGE_CHECKS: tuple of functions (inputs) -> findings, run after every file.
PACKAGE_CHECK_MODULES = (
    "modelcert.checks.backdoor_template",
    "modelcert.checks.backdoor_tokenizer",
    "modelcert.checks.backdoor_config",
    "modelcert.checks.backdoor_graph",
    "modelcert.checks.backdoor_lineage",
)

# Which module analyses which format, so only that module is imported. A test checks that this map
# agrees with what the modules declare; a format missing here falls back to importing every module.
FORMAT_MODULES: dict[str, str] = {
    "pickle": "modelcert.checks.pickle_code",
    "zip": "modelcert.checks.archive",
    "tar": "modelcert.checks.archive",
    "gzip": "modelcert.checks.archive",
    "bzip2": "modelcert.checks.archive",
    "xz": "modelcert.checks.archive",
    "zstd": "modelcert.checks.archive",
    "7z": "modelcert.checks.archive",
    "lz4": "modelcert.checks.archive",
    "zlib": "modelcert.checks.archive",
    "lzma": "modelcert.checks.archive",
    "torchscript-code": "modelcert.checks.pytorch",
    "numpy": "modelcert.checks.numpy_arrays",
    "safetensors": "modelcert.checks.weights",
    "gguf": "modelcert.checks.weights",
    "jinja": "modelcert.checks.templates",
    "onnx": "modelcert.checks.graph",
    "keras-config": "modelcert.checks.keras",
    "hdf5": "modelcert.checks.keras",
    "tf-savedmodel": "modelcert.checks.savedmodel",
    "protobuf": "modelcert.checks.savedmodel",
    "json": "modelcert.checks.remote_code",
    "python": "modelcert.checks.remote_code",
    "pyc": "modelcert.checks.remote_code",
    "yaml": "modelcert.checks.yaml_config",
    "executable": "modelcert.checks.native_code",
}


def _specs(module_name: str) -> tuple[AnalyzerSpec, ...]:
    module = importlib.import_module(module_name)
    specs: tuple[AnalyzerSpec, ...] = getattr(module, "ANALYZERS", ())
    return specs


@cache
def analyzers() -> dict[str, Analyzer]:
    """Every format → analyzer (imports every module)."""
    table: dict[str, Analyzer] = {}
    for name in MODULES:
        for spec in _specs(name):
            for fmt in spec.formats:
                if fmt in table:
                    raise RuntimeError(f"format {fmt!r} has two analyzers ({name})")
                table[fmt] = spec.analyze
    return table


@cache
def analyzer_for(fmt: str) -> Analyzer | None:
    """The analyzer of one format, importing only its module when the format is mapped."""
    module_name = FORMAT_MODULES.get(fmt)
    if module_name is None:
        # No module claims it (text, binary, image …): answering must not import every analyzer.
        # tests/test_registry.py keeps FORMAT_MODULES complete.
        return None
    for spec in _specs(module_name):
        if fmt in spec.formats:
            return spec.analyze
    return None


@cache
def load_package_checks() -> tuple[Callable[..., Iterable[Finding]], ...]:
    """Every package-level check of PACKAGE_CHECK_MODULES (imported on first use, once)."""
    found: list[Callable[..., Iterable[Finding]]] = []
    for name in PACKAGE_CHECK_MODULES:
        found.extend(getattr(importlib.import_module(name), "PACKAGE_CHECKS", ()))
    return tuple(found)


def all_checks() -> dict[str, type[Check]]:
    analyzers()  # importing the modules registers their checks
    return dict(sorted(CHECKS.items()))
