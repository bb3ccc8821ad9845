"""Keras configs (.keras config.json, .h5 model_config) and HDF5: one regression test per Keras
CVE (2024-3660, 2025-1550, 2025-8747, 2025-9905, 2025-9906, 2025-49655, 2026-1462), benign models
saved by real Keras 3 stay clean."""

from __future__ import annotations

import io
import json
import os
import runpy
import zipfile
from pathlib import Path

import pytest

from builders.graphs import (
    HARMLESS_COMMAND,
    HARMLESS_PICKLE,
    RecordingContext,
    config_bytes,
    h5_with_external_references,
    h5_with_model_config,
    keras2_lambda_layer,
    keras3_lambda_layer,
    keras_custom_object_layer,
    keras_cve_2025_1550_layers,
    keras_cve_2025_8747_layer,
    keras_cve_2025_9906_layers,
    keras_cve_2025_49655_layer,
    keras_cve_2026_1462_layer,
    keras_function,
    keras_layer,
    keras_sequential_config,
    keras_zip,
    real_keras_models,
)
from modelcert.checks.keras import analyze_hdf5, analyze_keras_config, keras_catalog
from modelcert.errors import FormatError, LimitExceeded
from modelcert.findings import Severity, Verdict
from modelcert.formats import hdf5 as hdf5_reader
from modelcert.formats.blob import BytesBlob
from modelcert.limits import Limits
from modelcert.scan import scan_blob, scan_paths

pytest.importorskip("h5py")
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def run_config(config: dict, limits: Limits | None = None) -> RecordingContext:
    """Analyse a config.json as the zip helper hands it over (format hint keras-config)."""
    ctx = RecordingContext("model.keras", depth=1, limits=limits)
    analyze_keras_config(BytesBlob(config_bytes(config), "config.json"), ctx)
    return ctx


def only(ctx: RecordingContext, check_id: str):
    found = [f for f in ctx.findings if f.check_id == check_id]
    assert len(found) == 1, [(f.check_id, f.message) for f in ctx.findings]
    return found[0]


# -- benign files saved by Keras 3 ------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_models(tmp_path_factory) -> dict[str, Path]:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras")
    return real_keras_models(tmp_path_factory.mktemp("keras"))


@pytest.mark.parametrize("stem", ["sequential", "functional"])
def test_real_keras_configs_are_clean(real_models, stem):
    with zipfile.ZipFile(real_models[f"{stem}.keras"]) as archive:
        config = archive.read("config.json")
        weights = archive.read("model.weights.h5")
    ctx = RecordingContext("model.keras", depth=1)
    analyze_keras_config(BytesBlob(config, "config.json"), ctx)
    assert ctx.findings == []
    weights_ctx = RecordingContext("model.weights.h5", depth=1)
    analyze_hdf5(BytesBlob(weights, "model.weights.h5"), weights_ctx)
    assert weights_ctx.findings == []


@pytest.mark.parametrize("stem", ["sequential", "functional"])
def test_real_keras_h5_models_are_clean(real_models, stem):
    report = scan_paths([real_models[f"{stem}.h5"]])
    (artifact,) = report.files
    assert artifact.format == "keras-h5"
    assert artifact.verdict is Verdict.CLEAN, [f.message for f in artifact.all_findings()]


def test_real_keras_zip_is_clean_when_the_zip_reader_hands_over_the_config(real_models):
    report = scan_paths([real_models["sequential.keras"]])
    formats = {m.format for m in report.files[0].members}
    if "keras-config" not in formats:
        pytest.skip("the zip reader does not hand config.json over as keras-config yet")
    assert report.verdict is Verdict.CLEAN, [f.message for f in report.all_findings()]


def test_keras_builtin_list_matches_installed_keras(tmp_path):
    pytest.importorskip("keras")
    script = Path(__file__).resolve().parents[1] / "scripts" / "gen_keras_builtins.py"
    out = tmp_path / "keras_builtins.json"
    runpy.run_path(str(script), run_name="gen")["main"]([str(out)])
    fresh = json.loads(out.read_text())
    assert fresh["generated_from"] == keras_catalog().generated_from, "regenerate the list for this Keras"
    committed = Path(__file__).resolve().parents[1] / "src" / "modelcert" / "data" / "keras_builtins.json"
    assert fresh == json.loads(committed.read_text())


def test_builtin_function_references_are_clean():
    config = keras_sequential_config([keras_layer("Dense", {"units": 1})])
    config["compile_config"] = {
        "loss": keras_function("builtins", "mean_squared_error"),
        "metrics": [keras_function("keras.metrics", "mean_absolute_error")],
    }
    assert run_config(config).findings == []


def test_keras_hub_and_legacy_custom_prefixed_optimizer_are_clean():
    hub = keras_layer(
        "GemmaBackbone",
        {},
        module="keras_hub.src.models.gemma.gemma_backbone",
        registered_name="keras_hub>GemmaBackbone",
    )
    optimizer = {"class_name": "Custom>Adam", "config": {"learning_rate": 0.001}}
    config = keras_sequential_config([hub], legacy=False)
    config["compile_config"] = {"optimizer": optimizer}
    assert run_config(config).findings == []


# -- CVE regressions ------------------------------------------------------------------------------


def test_cve_2024_3660_lambda_with_bytecode_is_unsafe():
    ctx = run_config(keras_sequential_config([keras3_lambda_layer()]))
    finding = only(ctx, "MC160")
    assert finding.verdict is Verdict.UNSAFE and finding.severity is Severity.CRITICAL
    assert "CVE-2024-3660" in finding.message
    assert HARMLESS_COMMAND in " ".join(finding.details["strings"])
    assert finding.location.pointer == "/config/layers/1"


def test_cve_2025_9905_h5_lambda_ignores_safe_mode():
    data = h5_with_model_config(keras_sequential_config([keras2_lambda_layer()], legacy=True))
    report = scan_blob(BytesBlob(data, "model.h5"), "model.h5")
    assert report.verdict is Verdict.UNSAFE
    (finding,) = report.findings
    assert finding.check_id == "MC160"
    assert "CVE-2025-9905" in finding.message and "CVE-2024-3660" in finding.message
    assert finding.location.pointer == "@model_config/config/layers/1"


def test_lambda_naming_a_module_function_is_unsafe():
    layer = keras_layer(
        "Lambda", {"function": "system", "function_type": "function", "module": "os"}, module=None
    )
    finding = only(run_config(keras_sequential_config([layer], legacy=True)), "MC160")
    assert finding.severity is Severity.HIGH
    assert "os.system" in finding.message


def test_generic_lambda_object_is_unsafe():
    layer = keras_layer(
        "Dense",
        {
            "units": 1,
            "activation": {"class_name": "__lambda__", "config": {"value": ["ZmFrZQ==", None, None]}},
        },
    )
    assert only(run_config(keras_sequential_config([layer])), "MC160").verdict is Verdict.UNSAFE


def test_cve_2025_1550_foreign_modules_are_unsafe():
    ctx = run_config(keras_sequential_config(keras_cve_2025_1550_layers()))
    unsafe = [f for f in ctx.findings if f.check_id == "MC161"]
    assert {f.details["module"] + "." + f.details["name"] for f in unsafe} == {
        "subprocess.Popen",
        "builtins.exec",
        "os.system",
    }
    assert all("CVE-2025-1550" in f.message for f in unsafe)


def test_cve_2025_8747_get_file_gadget_is_unsafe():
    finding = only(run_config(keras_sequential_config([keras_cve_2025_8747_layer()])), "MC163")
    assert "CVE-2025-8747" in finding.message
    assert finding.verdict is Verdict.UNSAFE


def test_get_file_mentioned_anywhere_is_unsafe():
    layer = keras_layer("Dense", {"units": 1, "arguments": {"loader": "keras.utils.get_file"}})
    finding = only(run_config(keras_sequential_config([layer])), "MC163")
    assert finding.location.pointer == "/config/layers/1/config/arguments/loader"


def test_get_file_as_part_of_a_longer_name_is_not_a_gadget():
    layer = keras_layer("Dense", {"units": 1, "name": "get_file_embedding"})
    assert run_config(keras_sequential_config([layer])).findings == []


def test_cve_2025_9906_safe_mode_toggle_then_lambda_is_unsafe():
    ctx = run_config(keras_sequential_config(keras_cve_2025_9906_layers()))
    assert "CVE-2025-9906" in only(ctx, "MC164").message
    assert only(ctx, "MC160").verdict is Verdict.UNSAFE


def test_cve_2025_49655_torch_module_wrapper_is_unsafe_and_its_pickle_is_scanned():
    ctx = run_config(keras_sequential_config([keras_cve_2025_49655_layer()]))
    assert "CVE-2025-49655" in only(ctx, "MC165").message
    ((name, blob, _hint),) = ctx.members
    assert blob.read_all(1 << 20) == HARMLESS_PICKLE
    assert name == "/config/layers/1/config/module"


def test_cve_2026_1462_tfsm_layer_is_unsafe():
    finding = only(run_config(keras_sequential_config([keras_cve_2026_1462_layer()])), "MC166")
    assert finding.details["filepath"].endswith("attacker_savedmodel")
    assert "CVE-2026-1462" in finding.message


# -- other references -----------------------------------------------------------------------------


def test_custom_objects_are_suspicious():
    finding = only(run_config(keras_sequential_config([keras_custom_object_layer()])), "MC162")
    assert finding.verdict is Verdict.SUSPICIOUS
    assert "MyPackage>MyLayer" in finding.message


def test_unqualified_custom_class_in_legacy_config_is_suspicious():
    layer = keras_layer("AttentionWithSecrets", {"units": 2}, module=None)
    ctx = run_config(keras_sequential_config([layer], legacy=True))
    assert only(ctx, "MC162").verdict is Verdict.SUSPICIOUS


def test_registered_name_shadowing_a_builtin_is_suspicious():
    layer = keras_layer("Dense", {"units": 2}, registered_name="evil_pkg>Dense")
    assert "evil_pkg>Dense" in only(run_config(keras_sequential_config([layer])), "MC162").message


def test_unknown_keras_symbol_is_low_suspicious():
    layer = keras_layer("QuantumDense", {"units": 2}, module="keras.layers")
    finding = only(run_config(keras_sequential_config([layer])), "MC167")
    assert (finding.verdict, finding.severity) == (Verdict.SUSPICIOUS, Severity.LOW)


def test_other_non_modeling_api_is_unsafe():
    layer = keras_layer("Dense", {"units": 1, "activation": keras_function("keras.models", "load_model")})
    assert only(run_config(keras_sequential_config([layer])), "MC163").verdict is Verdict.UNSAFE


def test_tf_op_lambda_calling_write_file_is_unsafe():
    layer = keras_layer("TFOpLambda", {"function": "io.write_file"}, module=None)
    config = keras_sequential_config(
        [layer, keras_layer("TFOpLambda", {"function": "math.add"}, module=None)], legacy=True
    )
    finding = only(run_config(config), "MC168")
    assert "io.write_file" in finding.message


def test_training_config_is_walked_too():
    data = h5_with_model_config(
        keras_sequential_config([], legacy=True), training_config={"loss": keras_function("os", "system")}
    )
    ctx = RecordingContext("model.h5")
    analyze_hdf5(BytesBlob(data, "model.h5"), ctx)
    assert only(ctx, "MC161").location.pointer == "@training_config/loss"


# -- HDF5 structure -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["external-link", "external-storage", "virtual-source"])
def test_hdf5_references_to_host_files_are_unsafe(kind):
    report = scan_blob(BytesBlob(h5_with_external_references(kind, "/etc/passwd"), "w.h5"), "w.h5")
    assert report.verdict is Verdict.UNSAFE
    (finding,) = report.findings
    assert (finding.check_id, finding.details["kind"]) == ("MC170", kind)


def test_hdf5_reference_to_a_relative_file_is_suspicious():
    report = scan_blob(BytesBlob(h5_with_external_references("external-link", "other.h5"), "w.h5"), "w.h5")
    assert report.verdict is Verdict.SUSPICIOUS


def test_hdf5_weights_only_file_is_clean():
    report = scan_blob(BytesBlob(_plain_h5(), "w.h5"), "w.h5")
    assert report.format == "hdf5"
    assert report.verdict is Verdict.CLEAN


def _plain_h5() -> bytes:
    h5py = pytest.importorskip("h5py")
    np = pytest.importorskip("numpy")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as handle:
        handle.create_dataset("layers/dense/vars/0", data=np.ones((3, 3), dtype=np.float32))
    return buffer.getvalue()


def test_hdf5_object_count_is_bounded():
    with pytest.raises(LimitExceeded):
        analyze_hdf5(
            BytesBlob(_plain_h5(), "w.h5"), RecordingContext("w.h5", limits=Limits(max_archive_members=2))
        )


def test_broken_hdf5_is_unscannable():
    data = bytearray(_plain_h5())
    data[200:900] = b"\xff" * 700
    report = scan_blob(BytesBlob(bytes(data), "w.h5"), "w.h5")
    assert report.verdict is Verdict.UNSCANNABLE


def test_model_config_that_is_not_json_is_a_format_error():
    with pytest.raises(FormatError):
        analyze_hdf5(BytesBlob(h5_with_model_config("{not json"), "m.h5"), RecordingContext("m.h5"))


def test_config_nesting_is_bounded():
    config: dict = {"class_name": "Dense", "config": {}}
    for _ in range(60):
        config = {"class_name": "Wrapper", "module": "keras.layers", "config": {"layer": config}}
    with pytest.raises(LimitExceeded):
        run_config(config, limits=Limits(max_json_depth=50))


def test_malicious_keras_zip_is_unsafe_through_the_scanner(tmp_path):
    path = tmp_path / "model.keras"
    path.write_bytes(
        keras_zip(keras_sequential_config([keras_cve_2025_49655_layer(), keras3_lambda_layer()]))
    )
    report = scan_paths([path])
    found = {f.check_id for f in report.all_findings()}
    if not found & {"MC160", "MC165"}:
        pytest.skip("the zip reader does not hand config.json over as keras-config yet")
    assert report.verdict is Verdict.UNSAFE
    assert {"MC160", "MC165"} <= found


def test_tensorflow_typespec_and_legacy_json_encodings_are_clean():
    spec = {
        "class_name": "__typespec__",
        "spec_name": "RaggedTensorSpec",
        "registered_name": None,
        "module": "tensorflow.python.ops.ragged.ragged_tensor",
        "config": [[None, None], "float32", 1],
    }
    layer = keras_layer(
        "InputLayer", {"type_spec": spec, "shape": {"class_name": "TensorShape", "items": [None, 3]}}
    )
    assert run_config(keras_sequential_config([layer])).findings == []


def test_typespec_naming_a_dangerous_module_is_still_unsafe():
    spec = {"class_name": "__typespec__", "spec_name": "system", "module": "os", "config": []}
    layer = keras_layer("InputLayer", {"type_spec": spec})
    assert only(run_config(keras_sequential_config([layer])), "MC161").verdict is Verdict.UNSAFE


def test_hdf5_library_crash_makes_the_file_unscannable_not_the_scan(monkeypatch):
    monkeypatch.setattr(
        hdf5_reader, "WORKER", ("-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    )
    report = scan_blob(BytesBlob(_plain_h5(), "w.h5"), "w.h5")
    assert report.verdict is Verdict.UNSCANNABLE
    assert "crashed" in report.findings[0].message


def test_hdf5_reader_that_hangs_is_stopped(monkeypatch):
    monkeypatch.setattr(hdf5_reader, "WORKER", ("-c", "import time; time.sleep(30)"))
    monkeypatch.setattr(hdf5_reader, "WORKER_SECONDS", 1)
    with pytest.raises(LimitExceeded):
        hdf5_reader.read_hdf5(BytesBlob(_plain_h5(), "w.h5"), Limits())


def test_hdf5_file_on_disk_is_read_by_path(tmp_path):
    path = tmp_path / "model.h5"
    path.write_bytes(h5_with_model_config(keras_sequential_config([keras2_lambda_layer()], legacy=True)))
    report = scan_paths([path])
    assert {f.check_id for f in report.all_findings()} == {"MC160"}
