"""Keras analyzers: `keras-config` (config.json of a .keras zip) and `hdf5` (.h5 models and weights).

Check IDs MC160–MC179 belong to Keras and HDF5. `report_keras_config` is shared with the
SavedModel analyzer (Keras metadata inside TF SavedModels).
"""

from __future__ import annotations

import base64
import binascii
import posixpath
import re
from collections.abc import Iterable
from typing import Any

from modelcert.checks.base import AnalysisContext, AnalyzerSpec, Check
from modelcert.checks.keras_catalog import (
    DANGEROUS_MODULES,
    DANGEROUS_NAMES,
    KERAS_FAMILY,
    TRUSTED_PACKAGES,
    KerasCatalog,
    keras_catalog,
)
from modelcert.findings import Confidence, Severity, Verdict
from modelcert.formats.blob import Blob, BytesBlob
from modelcert.formats.hdf5 import ExternalReference, read_hdf5
from modelcert.formats.keras_config import KerasConfigView, ObjectRef, parse_json, walk_config

# APIs named by Keras' NON_MODELING_APIS, by their last component: a config must never call them.
_NON_MODELING_CVE = {
    "get_file": "CVE-2025-8747",
    "enable_unsafe_deserialization": "CVE-2025-9906",
}
# tf.keras TFOpLambda / SlicingOpLambda layers call a TensorFlow API function by name; these
# namespaces and functions reach files, Python callbacks or the network.
_TF_OP_LAMBDA_DANGER = re.compile(
    r"(^|\.)(read_file|write_file|matching_files|gfile|summary|saved_model|py_function|numpy_function|"
    r"py_func|load_library|load_op_library|print|enable_dump_debug_info)(\.|$)|(^|\.)data\.",
)
_PRINTABLE = re.compile(rb"[\x20-\x7e]{3,}")


class KerasLambdaLayer(Check):
    """The config holds a Lambda layer or a `__lambda__` object: Python code that runs on load.

    Keras serialises a lambda as base64 marshalled bytecode (`function`, `__lambda__` → `code` /
    `value`) and unmarshals and executes it when the model is loaded; a Lambda naming a function
    by `module` + name pulls that function (e.g. `os.system`) into the model. Keras 3 refuses
    lambdas only in safe mode, legacy `.h5` loading ignores `safe_mode` altogether.

    Covers CVE-2024-3660 (arbitrary code through Lambda layers, Keras < 2.13) and CVE-2025-9905
    (`.h5` / HDF5 loading ignores `safe_mode`). Printable strings found in the bytecode are shown
    as evidence; the bytecode is never unmarshalled. Verdict **unsafe**.
    """

    id = "MC160"
    title = "Keras Lambda layer (embedded Python code)"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-94"
    remediation = ("Replace the Lambda with a built-in layer or a registered custom layer whose code you "
                   "review and ship separately; never load the file with safe_mode=False.")


class KerasUnsafeModuleReference(Check):
    """A config entry names a class or function from a module that runs commands, opens files or
    loads code (`os`, `subprocess`, `builtins.exec`, `importlib`, `torch.load`, ...).

    Keras resolves `module` + `class_name` (or a `function` entry's name) by importing the module,
    then calls the object with arguments from the config. Before Keras 3.9 any module could be
    named, even in safe mode: CVE-2025-1550. `{"module": "builtins", "class_name": "function"}` is
    legitimate only for names of Keras built-in functions (e.g. a loss); any other name is flagged.
    Verdict **unsafe**.
    """

    id = "MC161"
    title = "Keras config imports a dangerous module"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-502"
    remediation = "Do not load the model; rebuild it from a config that names only Keras built-ins."


class KerasCustomObject(Check):
    """The config names a custom object: a class or function that is not part of Keras (a
    `registered_name` such as `MyPackage>MyLayer`, or a `module` outside Keras).

    Loading needs code from outside the file (`custom_objects`, an installed package), which the
    scan cannot see; that code runs with the model. KerasHub/KerasCV/KerasNLP classes, which Keras
    itself trusts, are not reported. Verdict **suspicious**.
    """

    id = "MC162"
    title = "Keras custom object (code outside the file)"
    severity = Severity.MEDIUM
    confidence = Confidence.MEDIUM
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Review the package that provides the custom objects and pin it; prefer built-in layers."


class KerasNonModelingApi(Check):
    """The config names a Keras API that is not a modeling object: `keras.utils.get_file` (downloads
    a file from a URL during loading), `load_model`, `save_img`, dataset loaders, ...

    These live inside the `keras` namespace, so module allowlists let them through: CVE-2025-8747
    used `keras.utils.get_file` to bypass the CVE-2025-1550 fix. Keras ≥ 3.11 refuses the names in
    its NON_MODELING_APIS list; the string `get_file` anywhere in a config is reported too.
    Verdict **unsafe**.
    """

    id = "MC163"
    title = "Keras config calls a non-modeling API"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-494"
    remediation = "Do not load the model; a model config never needs file, network or loading APIs."


class KerasUnsafeDeserializationToggle(Check):
    """The config calls `keras.config.enable_unsafe_deserialization`, switching safe mode off in
    the middle of loading so that a later Lambda layer runs: CVE-2025-9906 (Keras < 3.11).
    Verdict **unsafe**."""

    id = "MC164"
    title = "Keras config disables safe mode"
    severity = Severity.CRITICAL
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-693"
    remediation = "Do not load the model."


class KerasTorchModuleWrapper(Check):
    """A `TorchModuleWrapper` layer: its config holds a base64 `torch.save` pickle that
    `from_config` loads with `torch.load(weights_only=False)` — arbitrary code on load in Keras
    3.11.0–3.11.2 (CVE-2025-49655). The embedded pickle is also handed to the scanner as a member,
    so what it would execute is reported there. Verdict **unsafe**."""

    id = "MC165"
    title = "Keras TorchModuleWrapper (embedded torch pickle)"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-502"
    remediation = "Export the torch module's weights separately (safetensors) and rebuild the layer in code."


class KerasTFSMLayer(Check):
    """A `TFSMLayer` layer: it loads a TensorFlow SavedModel from the `filepath` in its config —
    a file outside the package, chosen by whoever wrote the config, whose graph runs as part of the
    model. Keras < 3.13.2 did this even in safe mode (CVE-2026-1462). Verdict **unsafe**."""

    id = "MC166"
    title = "Keras TFSMLayer (loads an external SavedModel)"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-829"
    remediation = "Ship the SavedModel's computation as Keras layers, or scan the referenced SavedModel."


class KerasUnknownBuiltin(Check):
    """The config names a symbol in the `keras` namespace that is not a Keras built-in known to
    this scanner (generated from the installed Keras; newer Keras releases add layers). It is
    resolved inside Keras, so it cannot import foreign code, but it is not verified either.
    Verdict **suspicious** (low)."""

    id = "MC167"
    title = "Keras symbol not in the built-in list"
    severity = Severity.LOW
    confidence = Confidence.LOW
    verdict = Verdict.SUSPICIOUS
    cwe = "CWE-829"
    remediation = "Check the symbol against the Keras release that saved the model."


class KerasTFOpLambdaGadget(Check):
    """A tf.keras `TFOpLambda` / `SlicingOpLambda` layer calls a TensorFlow API function that reads
    or writes files, runs Python callbacks or prints to a stream (`tf.io.write_file`,
    `tf.py_function`, `tf.io.gfile.*`, ...). These layers call any public TensorFlow function named
    in the config, so a Keras 2 model can touch the host file system at inference.
    Verdict **unsafe**."""

    id = "MC168"
    title = "tf.keras TFOpLambda calls a file or callback API"
    severity = Severity.HIGH
    confidence = Confidence.MEDIUM
    verdict = Verdict.UNSAFE
    cwe = "CWE-73"
    remediation = "Rebuild the layer with plain TensorFlow math operations."


class Hdf5ExternalReference(Check):
    """The HDF5 file makes the HDF5 library open another file: an external link, external raw
    storage (a dataset whose bytes are read from any file on the host, at any offset) or a
    virtual dataset source.

    Loading weights from such a file copies host files (`/etc/passwd`, keys) into model tensors —
    the HDF5 counterpart of the ONNX external-data CVEs. Keras never writes these. Verdict
    **unsafe** when the target is absolute, climbs with `..` or is a URL, **suspicious** otherwise.
    """

    id = "MC170"
    title = "HDF5 reference to another file"
    severity = Severity.HIGH
    confidence = Confidence.HIGH
    verdict = Verdict.UNSAFE
    cwe = "CWE-73"
    remediation = "Re-save the weights with h5py/Keras into one self-contained file."


# -- analyzers -----------------------------------------------------------------------------------


def analyze_keras_config(blob: Blob, ctx: AnalysisContext) -> None:
    root = parse_json(blob.read_all(ctx.limits.max_json_bytes), ctx.limits, "Keras config")
    report_keras_config(walk_config(root, ctx.limits), ctx, source="keras")


def analyze_hdf5(blob: Blob, ctx: AnalysisContext) -> None:
    view = read_hdf5(blob, ctx.limits)
    for ref in view.external:
        _report_hdf5_reference(ref, ctx)
    for name in ("model_config", "training_config"):
        text = view.keras_attributes.get(name)
        if text is None:
            continue
        root = parse_json(text.encode("utf-8"), ctx.limits, f"HDF5 attribute {name}")
        report_keras_config(walk_config(root, ctx.limits, prefix=f"@{name}"), ctx, source="h5")
    if "model_config" in view.keras_attributes:
        ctx.set_format("keras-h5")


def report_keras_config(view: KerasConfigView, ctx: AnalysisContext, *, source: str) -> None:
    """Findings for one walked Keras config. `source` is "keras", "h5" or "savedmodel"."""
    catalog = keras_catalog()
    lambda_pointers: list[str] = []
    reported: set[tuple[str, str]] = set()
    for ref in view.refs:
        if _inside(ref.pointer, lambda_pointers) and ref.class_name == "__lambda__":
            continue
        for check, message, extra in _judge(ref, catalog, source):
            if check is KerasLambdaLayer:
                lambda_pointers.append(ref.pointer)
            reported.add((check.id, ref.pointer))
            ctx.add(check.finding(message, ctx.location.at(pointer=ref.pointer), **extra))
        if ref.class_name == "TorchModuleWrapper" and _is_keras_module(ref.module):
            _scan_torch_payload(ref, ctx)
    for hit in view.string_hits:
        check = KerasUnsafeDeserializationToggle if hit.needle == "enable_unsafe_deserialization" else (
            KerasNonModelingApi)
        covering = [ptr for cid, ptr in reported if cid == check.id]
        if hit.pointer in covering or _inside(hit.pointer, covering):
            continue
        cve = _NON_MODELING_CVE[hit.needle]
        ctx.add(check.finding(f"config mentions {hit.needle!r} ({cve}): {hit.value[:80]!r}",
                              ctx.location.at(pointer=hit.pointer), details={"cve": cve}))


Judgement = tuple[type[Check], str, dict[str, Any]]


def _judge(ref: ObjectRef, catalog: KerasCatalog, source: str) -> Iterable[Judgement]:
    name = ref.name
    module = ref.module
    keras_module = _is_keras_module(module)
    if ref.class_name == "__lambda__":
        yield _lambda_judgement(ref, ref.config, source)
        return
    if ref.class_name.startswith("__") and ref.class_name.endswith("__"):
        return  # __tensor__, __numpy__, __bytes__, __slice__, __ellipsis__, __keras_tensor__
    if keras_module or module is None:
        yield from _keras_builtin_judgements(ref, catalog, source)
    if name in _NON_MODELING_CVE or (keras_module and name in catalog.non_modeling):
        yield _non_modeling(ref, name)
        return
    if module is None:
        if not _known_unqualified(ref, catalog):
            yield (KerasCustomObject, f"custom object {ref.registered_name or name!r} (no module; resolved "
                   "from custom_objects at load time)", {})
        return
    package = module.split(".", 1)[0]
    if keras_module:
        custom = _custom_registered_name(ref, catalog)
        if custom:
            yield (KerasCustomObject, f"registered name {custom!r} shadows Keras built-in {name!r}", {})
        elif not _known_keras(ref, catalog):
            yield (KerasUnknownBuiltin, f"{module}.{name} is not a Keras built-in known to this scanner "
                   f"({catalog.generated_from})", {})
        return
    if package == "builtins" and ref.class_name == "function" and name in catalog.functions:
        return  # Keras resolves builtins functions only among its own built-ins (e.g. a loss name)
    if ref.typespec and package == "tensorflow" and name.endswith("Spec") and name.isidentifier():
        return  # TensorFlow TypeSpecs (TensorSpec, RaggedTensorSpec) describe inputs, they run nothing
    if package in DANGEROUS_MODULES or name in DANGEROUS_NAMES:
        yield (KerasUnsafeModuleReference, f"config resolves {module}.{name} (CVE-2025-1550)",
               {"details": {"module": module, "name": name, "cve": "CVE-2025-1550"}})
        return
    if package in TRUSTED_PACKAGES:
        return
    yield (KerasCustomObject, f"custom object {module}.{name}"
           + (f" (registered as {ref.registered_name!r})" if ref.registered_name else ""), {})


def _keras_builtin_judgements(ref: ObjectRef, catalog: KerasCatalog, source: str) -> Iterable[Judgement]:
    config = ref.config if isinstance(ref.config, dict) else {}
    if ref.class_name == "Lambda":
        yield _lambda_judgement(ref, config, source)
    elif ref.class_name == "TorchModuleWrapper":
        yield (KerasTorchModuleWrapper, "TorchModuleWrapper layer carries a torch.save pickle loaded with "
               "weights_only=False (CVE-2025-49655)", {"details": {"cve": "CVE-2025-49655"}})
    elif ref.class_name == "TFSMLayer":
        path = str(config.get("filepath", ""))[:200]
        yield (KerasTFSMLayer, f"TFSMLayer loads the SavedModel at {path!r} (CVE-2026-1462)",
               {"details": {"filepath": path, "cve": "CVE-2026-1462"}})
    elif ref.class_name in ("TFOpLambda", "SlicingOpLambda"):
        function = str(config.get("function", ""))
        if _TF_OP_LAMBDA_DANGER.search(function):
            yield (KerasTFOpLambdaGadget, f"{ref.class_name} calls tf.{function}",
                   {"details": {"function": function}})


def _lambda_judgement(ref: ObjectRef, config: Any, source: str) -> Judgement:
    code = _lambda_code(config if ref.class_name == "Lambda" else {"function": {"config": config}})
    cves = ["CVE-2024-3660"] + (["CVE-2025-9905"] if source == "h5" else [])
    what = "Lambda layer" if ref.class_name == "Lambda" else "__lambda__ object"
    if code is not None:
        strings = [s.decode("ascii") for s in _PRINTABLE.findall(code)][:20]
        return (KerasLambdaLayer, f"{what} with marshalled Python bytecode ({', '.join(cves)})",
                {"details": {"cve": cves, "bytecode_bytes": len(code), "strings": strings}})
    target = _lambda_target(config)
    return (KerasLambdaLayer, f"{what} calls Python function {target} ({', '.join(cves)})",
            {"severity": Severity.HIGH, "details": {"cve": cves, "function": target}})


def _lambda_code(config: dict[str, Any]) -> bytes | None:
    """The marshalled bytecode of a Lambda, whichever of the Keras formats carries it."""
    function = config.get("function")
    candidates: list[Any] = []
    if isinstance(function, dict):  # Keras 3: {"class_name": "__lambda__", "config": {"code"|"value"}}
        inner = function.get("config")
        if isinstance(inner, dict):
            candidates += [inner.get("code"), inner.get("value")]
    elif isinstance(function, list) and function:  # Keras 2: [code, defaults, closure]
        candidates.append(function[0])
    elif isinstance(function, str) and config.get("function_type") == "lambda":
        candidates.append(function)
    for candidate in candidates:
        text = candidate[0] if isinstance(candidate, list) and candidate else candidate
        if isinstance(text, str) and text:
            try:
                return base64.b64decode(text.encode("ascii", errors="replace"))
            except (binascii.Error, ValueError):
                return text.encode("utf-8", errors="replace")
    return None


def _lambda_target(config: Any) -> str:
    if not isinstance(config, dict):
        return "?"
    function = config.get("function")
    if isinstance(function, dict):
        return f"{function.get('module')}.{function.get('config') or function.get('class_name')}"
    module = config.get("module")
    return f"{module}.{function}" if module else str(function)


def _non_modeling(ref: ObjectRef, name: str) -> Judgement:
    cve = _NON_MODELING_CVE.get(name)
    check: type[Check] = KerasUnsafeDeserializationToggle if name == "enable_unsafe_deserialization" else (
        KerasNonModelingApi)
    suffix = f" ({cve})" if cve else ""
    return (check, f"config calls {ref.module or 'keras'}.{name}{suffix}",
            {"details": {"api": f"{ref.module}.{name}", "cve": cve}})


def _is_keras_module(module: str | None) -> bool:
    return module is not None and module.split(".", 1)[0] in KERAS_FAMILY


def _known_keras(ref: ObjectRef, catalog: KerasCatalog) -> bool:
    if ref.class_name == "function":
        return ref.name in catalog.functions
    return ref.name in catalog.classes


def _known_unqualified(ref: ObjectRef, catalog: KerasCatalog) -> bool:
    registered = ref.registered_name
    plain = registered in (None, ref.class_name, "function")
    if registered and not plain and not _builtin_alias(registered, catalog):
        return False
    name = ref.name
    return name in catalog.classes or name in catalog.functions or _builtin_alias(name, catalog)


def _custom_registered_name(ref: ObjectRef, catalog: KerasCatalog) -> str | None:
    registered = ref.registered_name
    if not registered or registered in (ref.class_name, ref.name, "function"):
        return None
    if _builtin_alias(registered, catalog):
        return None
    if registered.split(">", 1)[0] in (*KERAS_FAMILY, *TRUSTED_PACKAGES):
        return None
    return registered


def _builtin_alias(name: str, catalog: KerasCatalog) -> bool:
    # tf.keras 2.11–2.15 saved its new optimizers as "Custom>Adam"; the name is still a built-in.
    prefix, _, rest = name.partition(">")
    return prefix == "Custom" and rest in catalog.classes


def _inside(pointer: str, parents: list[str]) -> bool:
    return any(pointer.startswith(parent + "/") for parent in parents)


def _scan_torch_payload(ref: ObjectRef, ctx: AnalysisContext) -> None:
    config = ref.config if isinstance(ref.config, dict) else {}
    payload = config.get("module")
    if not isinstance(payload, str) or not payload:
        return
    try:
        data = base64.b64decode(payload.encode("ascii", errors="replace"), validate=False)
    except (binascii.Error, ValueError):
        return
    ctx.scan_member(f"{ref.pointer}/config/module", BytesBlob(data, "TorchModuleWrapper.module"))


def _report_hdf5_reference(ref: ExternalReference, ctx: AnalysisContext) -> None:
    target = ref.target.replace("\\", "/")
    normalized = posixpath.normpath(target) if target else target
    escapes = (
        target.startswith("/") or re.match(r"^[A-Za-z]:", target) is not None or "://" in target
        or normalized == ".." or normalized.startswith("../") or "\x00" in target
    )
    ctx.add(Hdf5ExternalReference.finding(
        f"{ref.kind} at {ref.pointer!r} reads {ref.target!r}" + (f" ({ref.detail})" if ref.detail else ""),
        ctx.location.at(pointer=ref.pointer),
        severity=None if escapes else Severity.MEDIUM,
        verdict=None if escapes else Verdict.SUSPICIOUS,
        details={"kind": ref.kind, "target": ref.target, "detail": ref.detail},
    ))


ANALYZERS: tuple[AnalyzerSpec, ...] = (
    AnalyzerSpec(formats=("keras-config",), analyze=analyze_keras_config),
    AnalyzerSpec(formats=("hdf5",), analyze=analyze_hdf5),
)
