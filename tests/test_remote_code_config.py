"""JSON analyzer: auto_map / custom_pipelines wiring, shard indexes, chat templates, JSON integrity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from builders import hf
from modelcert import scan as scan_module
from modelcert.findings import ArtifactReport, Finding, ScanReport, Severity, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.limits import Limits
from modelcert.scan import scan_blob, scan_paths


def _scan(folder: Path, limits: Limits | None = None) -> ScanReport:
    return scan_paths([folder], limits=limits or Limits(), workers=1)


def _file(report: ScanReport, path: str) -> ArtifactReport:
    return next(f for f in report.files if f.path == path)


def _ids(artifact: ArtifactReport) -> list[str]:
    return [f.check_id for f in artifact.all_findings()]


def _one(artifact: ArtifactReport, check_id: str) -> Finding:
    found = [f for f in artifact.all_findings() if f.check_id == check_id]
    assert len(found) == 1, [f.to_dict() for f in artifact.all_findings()]
    return found[0]


# ---- benign -------------------------------------------------------------------------------------


def test_benign_realistic_configs_are_clean(tmp_path: Path) -> None:
    hf.write_json(tmp_path, "config.json", hf.LLAMA_CONFIG)
    hf.write_json(tmp_path, "generation_config.json", hf.GENERATION_CONFIG)
    hf.write_json(tmp_path, "tokenizer_config.json", hf.tokenizer_config())
    hf.write_json(tmp_path, "special_tokens_map.json", hf.SPECIAL_TOKENS_MAP)
    hf.write_json(tmp_path, "tokenizer.json", hf.tokenizer_json())
    hf.write_json(tmp_path, "adapter_config.json", hf.ADAPTER_CONFIG)
    hf.write_json(tmp_path, "model.safetensors.index.json", hf.shard_index())
    for shard in ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"):
        (tmp_path / shard).write_bytes(b"")  # presence is what the index check needs
    report = _scan(tmp_path)
    for name in (
        "config.json",
        "generation_config.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "tokenizer.json",
        "adapter_config.json",
        "model.safetensors.index.json",
    ):
        artifact = _file(report, name)
        assert artifact.format == "json"
        assert artifact.verdict is Verdict.CLEAN, (name, [f.to_dict() for f in artifact.all_findings()])
        assert not [f for f in artifact.all_findings() if f.severity > Severity.INFO]


def test_custom_code_package_is_clean_with_informational_wiring(tmp_path: Path) -> None:
    report = _scan(hf.custom_code_package(tmp_path))
    assert report.verdict is Verdict.CLEAN, [f.to_dict() for f in report.all_findings()]
    wiring = _one(_file(report, "config.json"), "MC400")
    assert wiring.severity is Severity.INFO
    assert set(wiring.details["modules"]) == {"configuration_toy.py", "modeling_toy.py"}
    assert "tokenization_toy.py" in _one(_file(report, "tokenizer_config.json"), "MC400").message


# ---- auto_map / custom_pipelines -------------------------------------------------------------------


def test_auto_map_to_another_repository_is_suspicious_high(tmp_path: Path) -> None:
    config = {**hf.CUSTOM_CONFIG, "auto_map": {"AutoModel": "other/repo--modeling.Model"}}
    hf.write_json(tmp_path, "config.json", config)
    artifact = _file(_scan(tmp_path), "config.json")
    finding = _one(artifact, "MC401")
    assert (finding.verdict, finding.severity) == (Verdict.SUSPICIOUS, Severity.HIGH)
    assert finding.details["repo"] == "other/repo"
    assert finding.location.pointer == "auto_map/AutoModel"


def test_auto_map_to_a_missing_file_is_suspicious(tmp_path: Path) -> None:
    hf.write_json(tmp_path, "config.json", hf.CUSTOM_CONFIG)
    hf.write_text(tmp_path, "configuration_toy.py", hf.CONFIGURATION_TOY)  # modeling_toy.py is missing
    artifact = _file(_scan(tmp_path), "config.json")
    finding = _one(artifact, "MC402")
    assert finding.verdict is Verdict.SUSPICIOUS
    assert finding.details["file"] == "modeling_toy.py"
    assert len([f for f in artifact.findings if f.check_id == "MC402"]) == 1  # two keys, one report per key
    assert _one(artifact, "MC400").details["modules"] == {"configuration_toy.py": ["auto_map[AutoConfig]"]}


def test_auto_map_with_absolute_module_path_escapes_the_package(tmp_path: Path) -> None:
    hf.write_json(tmp_path, "config.json", {"auto_map": {"AutoModel": "/tmp/evil.Model"}})
    finding = _one(_file(_scan(tmp_path), "config.json"), "MC404")
    assert finding.verdict is Verdict.UNSAFE


@pytest.mark.parametrize(
    ("reference", "problem"),
    [("a.b.Model", "module.Class"), ("x--y--mod.Cls", "more than one"), (42, "not a string")],
)
def test_malformed_auto_map_entries(tmp_path: Path, reference: object, problem: str) -> None:
    hf.write_json(tmp_path, "config.json", {"auto_map": {"AutoModel": reference}})
    finding = _one(_file(_scan(tmp_path), "config.json"), "MC403")
    assert problem in finding.message


def test_tokenizer_auto_map_lists_and_nulls(tmp_path: Path) -> None:
    auto_map = {"AutoTokenizer": ["tokenization_toy.ToyTokenizer", "other/tok--tokenization_fast.Fast"]}
    hf.write_json(tmp_path, "tokenizer_config.json", hf.tokenizer_config(auto_map=auto_map))
    hf.write_text(tmp_path, "tokenization_toy.py", hf.TOKENIZATION_SENTENCEPIECE)
    artifact = _file(_scan(tmp_path), "tokenizer_config.json")
    assert _one(artifact, "MC401").location.pointer == "auto_map/AutoTokenizer/1"
    assert "tokenization_toy.py" in _one(artifact, "MC400").details["modules"]


def test_custom_pipelines_wiring(tmp_path: Path) -> None:
    config = {
        **hf.LLAMA_CONFIG,
        "custom_pipelines": {
            "pair-classification": {
                "impl": "custom_pipeline.PairClassificationPipeline",
                "pt": ["AutoModelForSequenceClassification"],
                "tf": [],
            },
            "summarize": {"impl": "elsewhere/pipes--pipe.Summarizer", "pt": [], "tf": []},
        },
    }
    hf.write_json(tmp_path, "config.json", config)
    hf.write_text(tmp_path, "custom_pipeline.py", f"import os\nos.system({hf.CMD!r})\n")
    report = _scan(tmp_path)
    config_report = _file(report, "config.json")
    assert "custom_pipeline.py" in _one(config_report, "MC400").details["modules"]
    assert _one(config_report, "MC401").location.pointer == "custom_pipelines/summarize/impl"
    code = _one(_file(report, "custom_pipeline.py"), "MC413")
    assert code.severity is Severity.CRITICAL  # HIGH raised one step: the pipeline file is wired
    assert "wired" in code.tags


def test_auto_map_is_noted_for_package_checks(tmp_path: Path) -> None:
    hf.custom_code_package(tmp_path)
    captured: list[object] = []

    def capture(ctx: scan_module.PackageContext) -> list[Finding]:
        captured.append(ctx.notes.get("config.json", {}).get("auto_map"))
        return []

    scan_module.PACKAGE_CHECKS.append(capture)
    try:
        _scan(tmp_path)
    finally:
        scan_module.PACKAGE_CHECKS.remove(capture)
    notes = captured[0]
    assert isinstance(notes, list)
    assert notes[0]["wired_files"] == ["configuration_toy.py", "modeling_toy.py"]


def test_sentence_transformers_and_diffusers_custom_modules(tmp_path: Path) -> None:
    hf.write_json(
        tmp_path,
        "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "custom_st.CustomPooling"},
        ],
    )
    hf.write_text(
        tmp_path, "custom_st.py", "import torch\n\nclass CustomPooling(torch.nn.Module):\n    pass\n"
    )
    hf.write_json(
        tmp_path,
        "model_index.json",
        {
            "_class_name": ["pipeline_toy", "ToyPipeline"],
            "_diffusers_version": "0.30.0",
            "scheduler": ["diffusers", "DDIMScheduler"],
            "unet": ["my_unet", "MyUNet"],
        },
    )
    hf.write_text(tmp_path, "pipeline_toy.py", "class ToyPipeline:\n    pass\n")
    hf.write_text(tmp_path, "unet/my_unet.py", f"import subprocess\nsubprocess.run({hf.CMD!r}, shell=True)\n")
    report = _scan(tmp_path)
    assert "custom_st.py" in _one(_file(report, "modules.json"), "MC400").details["modules"]
    assert set(_one(_file(report, "model_index.json"), "MC400").details["modules"]) == {
        "pipeline_toy.py",
        "unet/my_unet.py",
    }
    unet = _one(_file(report, "unet/my_unet.py"), "MC413")
    assert "wired" in unet.tags and unet.severity is Severity.CRITICAL


# ---- chat templates ---------------------------------------------------------------------------------


def test_chat_template_in_tokenizer_config_goes_to_the_template_checker(tmp_path: Path) -> None:
    """CVE-2024-34359: a chat template rendered by an unsandboxed Jinja2 environment runs code."""
    templates = pytest.importorskip("modelcert.checks.templates")
    if not hasattr(templates, "check_template_source"):
        pytest.skip("the template checker has not landed yet")
    hf.write_json(tmp_path, "tokenizer_config.json", hf.tokenizer_config(chat_template=hf.SSTI_TEMPLATE))
    artifact = _file(_scan(tmp_path), "tokenizer_config.json")
    assert artifact.verdict is Verdict.UNSAFE, [f.to_dict() for f in artifact.all_findings()]
    assert any(
        f.location.pointer == "chat_template" for f in artifact.findings if f.verdict is Verdict.UNSAFE
    )


def test_named_chat_templates_and_chat_template_json(tmp_path: Path) -> None:
    templates = pytest.importorskip("modelcert.checks.templates")
    if not hasattr(templates, "check_template_source"):
        pytest.skip("the template checker has not landed yet")
    named = [
        {"name": "default", "template": hf.CHAT_TEMPLATE},
        {"name": "tool_use", "template": hf.SSTI_TEMPLATE},
    ]
    hf.write_json(tmp_path, "tokenizer_config.json", hf.tokenizer_config(chat_template=named))
    hf.write_json(tmp_path, "chat_template.json", {"chat_template": hf.SSTI_TEMPLATE})
    report = _scan(tmp_path)
    unsafe = [f for f in _file(report, "tokenizer_config.json").findings if f.verdict is Verdict.UNSAFE]
    assert unsafe and all(f.location.pointer == "chat_template/1/template" for f in unsafe)
    assert _file(report, "chat_template.json").verdict is Verdict.UNSAFE


# ---- shard indexes ----------------------------------------------------------------------------------


@pytest.mark.parametrize("shard", ["../../outside/model.bin", "/etc/passwd", "sub/../../x.bin", "C:\\x.bin"])
def test_weight_map_traversal_is_unsafe(tmp_path: Path, shard: str) -> None:
    index = hf.shard_index({"model.embed_tokens.weight": shard})
    hf.write_json(tmp_path, "pytorch_model.bin.index.json", index)
    finding = _one(_file(_scan(tmp_path), "pytorch_model.bin.index.json"), "MC404")
    assert finding.verdict is Verdict.UNSAFE
    assert finding.location.pointer == "weight_map/model.embed_tokens.weight"


def test_weight_map_missing_shard_and_subfolder_shards(tmp_path: Path) -> None:
    hf.write_json(
        tmp_path,
        "unet/diffusion_pytorch_model.safetensors.index.json",
        hf.shard_index(
            {
                "a": "diffusion_pytorch_model-00001-of-00002.safetensors",
                "b": "diffusion_pytorch_model-00002-of-00002.safetensors",
            }
        ),
    )
    (tmp_path / "unet" / "diffusion_pytorch_model-00001-of-00002.safetensors").write_bytes(b"")
    finding = _one(_file(_scan(tmp_path), "unet/diffusion_pytorch_model.safetensors.index.json"), "MC405")
    assert finding.details["missing"] == ["diffusion_pytorch_model-00002-of-00002.safetensors"]


# ---- JSON integrity ---------------------------------------------------------------------------------


def test_duplicate_keys_in_config_are_suspicious(tmp_path: Path) -> None:
    text = '{"model_type": "llama", "auto_map": {"AutoModel": "modeling_a.A"}, "auto_map": {}}'
    (tmp_path / "config.json").write_text(text)
    finding = _one(_file(_scan(tmp_path), "config.json"), "MC406")
    assert finding.verdict is Verdict.SUSPICIOUS
    assert finding.details["key"] == "auto_map"


def test_deep_nesting_json_bomb_is_unscannable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_bytes(b'{"a": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
    artifact = _file(_scan(tmp_path), "config.json")
    assert artifact.verdict is Verdict.UNSCANNABLE
    assert _ids(artifact) == ["MC902"]


def test_json_beyond_the_size_limit_is_unscannable(tmp_path: Path) -> None:
    hf.write_json(tmp_path, "tokenizer.json", hf.tokenizer_json())
    artifact = _file(_scan(tmp_path, Limits(max_json_bytes=4096)), "tokenizer.json")
    assert artifact.verdict is Verdict.UNSCANNABLE
    assert _ids(artifact) == ["MC902"]


def test_malformed_json_is_unscannable() -> None:
    report = scan_blob(BytesBlob(b'{"model_type": "llama",, }', "config.json"), "config.json")
    assert report.verdict is Verdict.UNSCANNABLE
    assert [f.check_id for f in report.findings] == ["MC901"]


def test_json_inside_an_archive_skips_sibling_checks() -> None:
    index = json.dumps(hf.shard_index()).encode()
    report = scan_blob(BytesBlob(index, "model.safetensors.index.json"), "model.safetensors.index.json")
    assert report.verdict is Verdict.CLEAN  # no package around it: missing shards cannot be judged


# ---- unclaimed files ---------------------------------------------------------------------------------


def test_unclaimed_files_get_specific_skip_reasons(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text("# Model card\n")
    (tmp_path / "LICENSE").write_text("Apache License 2.0\n")
    (tmp_path / "banner.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\x00" * 64)
    (tmp_path / "model.onnx_data").write_bytes(bytes(range(256)) * 4)
    (tmp_path / "model.onnx.data").write_bytes(bytes(range(256)) * 4)
    report = _scan(tmp_path)
    reasons = {f.path: (f.format, f.skipped_reason or "") for f in report.files}
    assert reasons["README.md"][0] == "text" and "documentation" in reasons["README.md"][1]
    assert reasons["LICENSE"][0] == "text"
    assert reasons["banner.png"][0] == "image" and "image" in reasons["banner.png"][1]
    assert reasons["photo.jpg"][0] == "image"
    assert reasons["model.onnx_data"][0] == "tensor-data"
    assert reasons["model.onnx.data"][0] == "tensor-data"  # not force-read as a pickle for its .data suffix
    assert all(f.verdict is Verdict.SKIPPED for f in report.files)


def test_pickle_named_like_onnx_data_is_still_read_as_pickle(tmp_path: Path) -> None:
    (tmp_path / "model.onnx.data").write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")
    assert _file(_scan(tmp_path), "model.onnx.data").format == "pickle"


@pytest.mark.parametrize("name", ["processor_chat_template.json", "video_preprocessor.json", "extra.json"])
def test_a_chat_template_is_checked_in_any_json_file(tmp_path: Path, name: str) -> None:
    """Loaders keep adding places a template is read from (processors, video preprocessors): the
    SSTI check follows the `chat_template` key, not a list of file names."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    evil = "{{ cycler.__init__.__globals__.os.popen('id').read() }}"
    (folder / name).write_text(json.dumps({"chat_template": evil}))
    (folder / "benign.json").write_text(json.dumps({"chat_template": "{{ messages[0].content }}"}))
    report = _scan(folder)
    assert _file(report, name).verdict is Verdict.UNSAFE
    assert _file(report, "benign.json").verdict is Verdict.CLEAN
