"""What the Keras checks compare config references with: Keras' own built-ins (generated from Keras
into data/keras_builtins.json by scripts/gen_keras_builtins.py, never imported at scan time) and
the module families that decide a reference's fate."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Final

from modelcert.records import Record

KERAS_FAMILY = ("keras", "tf_keras")
# Keras-team packages that Keras itself imports during deserialization (serialization_lib:
# `package in {"keras", "keras_hub", "keras_cv", "keras_nlp"}`), restricted there to KerasSaveable
# classes: models published with them (KerasHub presets) reference their classes routinely.
TRUSTED_PACKAGES = ("keras_hub", "keras_cv", "keras_nlp")
# Top-level modules whose functions run commands, touch files or the network, or load code: a
# config naming any of them is an exploit, not a model (CVE-2025-1550 and its variants).
DANGEROUS_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtin__", "importlib", "runpy", "pty",
    "shutil", "socket", "ctypes", "pickle", "_pickle", "marshal", "code", "codeop", "webbrowser",
    "urllib", "urllib2", "http", "requests", "httpx", "ftplib", "smtplib", "telnetlib", "tempfile",
    "io", "_io", "pathlib", "glob", "multiprocessing", "threading", "_thread", "signal", "platform",
    "pydoc", "inspect", "types", "functools", "operator", "_operator", "timeit", "cProfile", "profile",
    "pdb", "trace", "asyncio", "shelve", "dbm", "sqlite3", "zipfile", "tarfile", "pkgutil", "uuid",
    "torch", "tensorflow", "jax", "numpy", "dill", "cloudpickle", "joblib", "linecache", "logging",
})
# Callables that are code execution or file access whatever module re-exports them.
DANGEROUS_NAMES = frozenset({"eval", "exec", "compile", "__import__", "system", "popen", "spawn"})
# Classes of Keras 2 / tf.keras configs that Keras 3 no longer exports but legacy loaders resolve.
LEGACY_CLASS_NAMES = frozenset({
    "Functional", "Model", "Sequential", "InputLayer", "TFOpLambda", "SlicingOpLambda",
    "TensorFlowOpLayer", "CuDNNLSTM", "CuDNNGRU", "DenseFeatures", "SequenceFeatures", "Policy",
    "LossScaleOptimizerV3", "SGD", "RMSprop", "Nadam", "Adamax", "Adagrad", "Adadelta", "Ftrl",
    "VarianceScaling", "TruncatedNormal", "RandomNormal", "RandomUniform", "Zeros", "Ones",
    "Convolution1D", "Convolution2D", "Convolution3D", "LocallyConnected1D", "LocallyConnected2D",
    "ThresholdedReLU", "SyncBatchNormalization", "AbstractRNNCell", "LossFunctionWrapper",
    # tf.keras json_utils encodings in SavedModel metadata (decoded by name, never imported)
    "TensorShape", "TypeSpec",
})


class KerasCatalog(Record):
    """Names of Keras built-ins, generated from Keras itself (scripts/gen_keras_builtins.py)."""

    __slots__ = ("classes", "functions", "generated_from", "non_modeling")
    classes: Final[frozenset[str]]
    functions: Final[frozenset[str]]
    non_modeling: Final[frozenset[str]]  # last components of Keras' NON_MODELING_APIS
    generated_from: Final[str]

    def __init__(
        self,
        classes: frozenset[str],
        functions: frozenset[str],
        non_modeling: frozenset[str],
        generated_from: str,
    ) -> None:
        self.classes = classes
        self.functions = functions
        self.non_modeling = non_modeling
        self.generated_from = generated_from


@cache
def keras_catalog() -> KerasCatalog:
    # A path next to the package, not importlib.resources: that imports tempfile, shutil and zipfile (~6 ms).
    text = (Path(__file__).parents[1] / "data" / "keras_builtins.json").read_text(encoding="utf-8")
    data = json.loads(text)
    classes: set[str] = set(data["internal_classes"]) | LEGACY_CLASS_NAMES
    functions: set[str] = set(data["builtin_functions"])
    for names in data["public"].values():
        for name in names:
            (classes if name[:1].isupper() else functions).add(name)
    functions -= {"get", "deserialize", "serialize"}  # generic resolvers, never named by a real config
    non_modeling = {api.rsplit(".", 1)[-1] for api in data["non_modeling_apis"]}
    return KerasCatalog(frozenset(classes), frozenset(functions), frozenset(non_modeling),
                        str(data.get("generated_from", "")))
