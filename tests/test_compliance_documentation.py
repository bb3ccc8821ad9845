"""Documentation checks: completeness against the union schema and declared-vs-actual consistency."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.compliance.artifacts import PackageFiles, read_facts
from modelcert.compliance.card import MISSING, PLACEHOLDER_TEXT, PRESENT, classify, parse_card
from modelcert.compliance.consistency import family, parse_count
from modelcert.compliance.documentation import completeness, consistency, package_card
from modelcert.compliance.engine import run_compliance
from modelcert.compliance.packs import load_pack
from modelcert.compliance.results import MET, NOT_MEASURABLE, NOT_MET
from modelcert.limits import DEFAULT_LIMITS
from test_compliance_fixtures import PARAMETERS, build_package, card_text

PACK = load_pack("modelcert-core")


def failing_requirements(folder: Path, profile: str) -> dict[str, set[str]]:
    run = run_compliance(folder, PACK, profile)
    return {cid: {r.id for r in res.requirements if r.status == NOT_MET} for cid, res in run.checks.items()}


@pytest.mark.parametrize("profile", ["eu-gpai", "eu-gpai-systemic", "nist-600-1", "cn-gbt45654", "owasp-llm"])
def test_complete_package_meets_every_documentation_requirement(tmp_path: Path, profile: str) -> None:
    run = run_compliance(build_package(tmp_path / "good"), PACK, profile)
    for check_id in ("doc.completeness", "doc.consistency"):
        assert run.checks[check_id].status == MET, run.checks[check_id].reason
    assert {r.id: r.status for r in run.checks["doc.consistency"].requirements} == {
        "parameters": MET,
        "context_length": MET,
        "vocab_size": MET,
        "architecture": MET,
        "chat_template": MET,
        "license_file": MET,
        "base_model": MET,
    }


@pytest.mark.parametrize("profile", ["eu-gpai", "eu-gpai-systemic", "nist-600-1", "cn-gbt45654", "owasp-llm"])
def test_wrong_count_placeholder_and_missing_licence_fail_exactly_those(tmp_path: Path, profile: str) -> None:
    folder = build_package(tmp_path / "bad", params="9,000", placeholder="Training Data", licence=False)
    failing = failing_requirements(folder, profile)
    assert failing["doc.completeness"] == {"training_data"}
    assert failing["doc.consistency"] == {"parameters", "license_file"}
    assert all(not ids for cid, ids in failing.items() if not cid.startswith("doc."))
    run = run_compliance(folder, PACK, profile)
    reasons = {r.id: r.reason for r in run.checks["doc.consistency"].requirements}
    assert "9,000" in reasons["parameters"] and "4,880" in reasons["parameters"]
    assert "no LICENSE/COPYING file" in reasons["license_file"]


def _facts_and_card(folder: Path) -> tuple[object, object]:
    facts = read_facts(PackageFiles(folder, DEFAULT_LIMITS), DEFAULT_LIMITS)
    return facts, package_card(facts)


def _consistency(folder: Path) -> dict[str, str]:
    facts, card = _facts_and_card(folder)
    result = consistency(PACK.checks["doc.consistency"], card, facts)  # type: ignore[arg-type]
    return {r.id: r.status for r in result.requirements}


@pytest.mark.parametrize(
    ("declared", "status"),
    [
        ("4.9K", MET),
        ("5K", MET),
        ("4880", MET),
        ("4.8K", NOT_MET),
        ("0.5 million", NOT_MET),
        ("about 4,900", MET),
    ],
)
def test_parameter_count_tolerates_rounding_only(tmp_path: Path, declared: str, status: str) -> None:
    assert _consistency(build_package(tmp_path / "m", params=declared))["parameters"] == status


def test_architecture_vocab_template_and_lineage_contradictions(tmp_path: Path) -> None:
    folder = build_package(
        tmp_path / "m",
        front={
            "architecture": "Llama 3 decoder",
            "chat_template_digest": "sha256:" + "0" * 64,
            "tags": ["finetune"],
            "vocab_size": 50257,
        },
    )
    statuses = _consistency(folder)
    assert statuses["architecture"] == NOT_MET
    assert statuses["chat_template"] == NOT_MET
    assert statuses["base_model"] == NOT_MET
    assert statuses["vocab_size"] == NOT_MET
    fixed = build_package(tmp_path / "ok", front={"tags": ["finetune"], "base_model": "example/tiny-base"})
    assert _consistency(fixed)["base_model"] == MET


def test_licence_text_must_match_the_key(tmp_path: Path) -> None:
    folder = build_package(tmp_path / "m")
    (folder / "LICENSE").write_text(
        "MIT License\n\nPermission is hereby granted, free of charge, to any person"
    )
    assert _consistency(folder)["license_file"] == NOT_MET
    other = build_package(tmp_path / "o", front={"license": "other"})
    assert _consistency(other)["license_file"] == NOT_MET  # license: other without license_name
    named = build_package(tmp_path / "n", front={"license": "other", "license_name": "tiny-licence"})
    assert _consistency(named)["license_file"] == MET


def test_adapter_base_must_match_the_card(tmp_path: Path) -> None:
    folder = build_package(tmp_path / "m", front={"base_model": "example/tiny-base"})
    (folder / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "other-org/other-base"})
    )
    assert _consistency(folder)["base_model"] == NOT_MET
    (folder / "adapter_config.json").write_text(json.dumps({"base_model_name_or_path": "example/tiny-base"}))
    assert _consistency(folder)["base_model"] == MET


def test_gguf_package_is_counted_from_its_header(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    np = pytest.importorskip("numpy")
    folder = tmp_path / "g"
    folder.mkdir()
    writer = gguf.GGUFWriter(str(folder / "model.gguf"), "llama")
    writer.add_context_length(4096)
    writer.add_token_list([f"t{i}" for i in range(32)])
    writer.add_tensor("token_embd.weight", np.zeros((32, 8), dtype=np.float32))
    writer.add_tensor("blk.0.attn_q.weight", np.zeros((8, 8), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    card = "---\nlicense: mit\nbase_model: example/base\ntags: [gguf]\n---\n- **Parameters:** 320\n"
    (folder / "README.md").write_text(card + "- **Context length:** 4k\n- **Architecture:** Llama\n")
    (folder / "LICENSE").write_text(
        "Permission is hereby granted, free of charge, to any person obtaining a copy"
    )
    facts, _ = _facts_and_card(folder)
    assert facts.parameters == 32 * 8 + 64 and facts.embedding_rows == 32 and facts.tokenizer_size == 32  # type: ignore[attr-defined]
    assert _consistency(folder) == {
        "parameters": MET,
        "context_length": MET,
        "vocab_size": MET,
        "architecture": MET,
        "chat_template": NOT_MEASURABLE,
        "license_file": MET,
        "base_model": MET,
    }


def test_no_card_fails_completeness_and_leaves_consistency_unmeasurable(tmp_path: Path) -> None:
    folder = build_package(tmp_path / "m")
    (folder / "README.md").unlink()
    facts, card = _facts_and_card(folder)
    assert card is None
    assert completeness(PACK.checks["doc.completeness"], None).status == NOT_MET
    assert consistency(PACK.checks["doc.consistency"], None, facts).status == NOT_MEASURABLE  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("[More Information Needed]", PLACEHOLDER_TEXT),
        ("- **Developed by:** [More Information Needed]\n- **Funded by:** TBD", PLACEHOLDER_TEXT),
        ("{{ model_description | default('') }}", PLACEHOLDER_TEXT),
        ("TODO: write this", PLACEHOLDER_TEXT),
        ("Lorem ipsum dolor", PLACEHOLDER_TEXT),
        ("   ", MISSING),
        ("### Direct Use\n\n### Downstream Use", PLACEHOLDER_TEXT),
        ("d", PRESENT),
        ("Example Research Lab", PRESENT),
        ("apache-2.0", PRESENT),
        ("The model summarises legal documents in French and German.", PRESENT),
        ([], MISSING),
        (["en"], PRESENT),
        (None, MISSING),
    ],
)
def test_placeholder_classification(text: object, status: str) -> None:
    assert classify(text) == status


def test_placeholder_anywhere_beats_content_elsewhere() -> None:
    card = parse_card(
        "---\nlicense: apache-2.0\n---\n## Model Details\n- **License:** [More Information Needed]\n",
        "README.md",
    )
    spec = PACK.checks["doc.completeness"]
    result = completeness(spec, card)
    assert result.requirement("license").status == NOT_MET  # type: ignore[union-attr]
    assert "placeholder" in result.requirement("license").reason  # type: ignore[union-attr]


def test_cyclonedx_model_card_counts_as_documentation(tmp_path: Path) -> None:
    folder = build_package(tmp_path / "m")
    (folder / "README.md").unlink()
    bom = {
        "bomFormat": "CycloneDX",
        "specVersion": "1.6",
        "components": [
            {
                "type": "machine-learning-model",
                "name": "tiny",
                "modelCard": {
                    "modelParameters": {"task": "text-generation", "datasets": [{"ref": "d"}]},
                    "considerations": {
                        "useCases": ["testing tools"],
                        "technicalLimitations": ["too small to be useful"],
                    },
                    "quantitativeAnalysis": {"performanceMetrics": [{"type": "accuracy", "value": "0.1"}]},
                },
            }
        ],
    }
    (folder / "bom.cdx.json").write_text(json.dumps(bom))
    _, card = _facts_and_card(folder)
    result = completeness(PACK.checks["doc.completeness"], card)  # type: ignore[arg-type]
    assert {r.id for r in result.requirements if r.status == MET} == {
        "model_description",
        "intended_uses",
        "limitations",
        "training_data",
        "evaluation",
    }
    assert result.requirement("license").status == NOT_MET  # type: ignore[union-attr]


def test_unparseable_front_matter_is_reported_not_fatal() -> None:
    card = parse_card("---\nlicense: [unclosed\n---\n# Title\n", "README.md")
    assert card.front_matter == {} and "not valid YAML" in card.problems[0]
    assert parse_card(card_text(params="1"), "README.md").front_matter["license"] == "apache-2.0"


def test_count_and_family_parsing() -> None:
    assert parse_count("1.2B") == (1.2e9, 0.05e9)
    assert parse_count("7,241,732,096") == (7241732096.0, 0.0)
    assert parse_count(124_000_000) == (124e6, 0.0)
    assert parse_count("n/a") is None
    assert family("GPT2LMHeadModel") == family("GPT-2") == "gpt2"
    assert family("Qwen2.5-7B-Instruct") == "qwen"
    assert family("A decoder-only transformer optimized for chat") is None
    assert PARAMETERS == 4880


def test_unreadable_weights_are_problems_not_crashes(tmp_path: Path) -> None:
    folder = build_package(tmp_path / "m")
    (folder / "model.safetensors").write_bytes(b"\xff" * 64)
    (folder / "extra.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\xff" * 40)
    facts, _ = _facts_and_card(folder)
    assert facts.parameters is None  # type: ignore[attr-defined]
    assert any("model.safetensors" in p for p in facts.problems)  # type: ignore[attr-defined]
    assert _consistency(folder)["parameters"] == NOT_MEASURABLE


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.text(max_size=800))
def test_any_card_text_parses_and_classifies(text: str) -> None:
    for candidate in (text, "---\n" + text + "\n---\n# T\n" + text):
        card = parse_card(candidate, "README.md")
        result = completeness(PACK.profile_checks("eu-gpai-systemic")["doc.completeness"], card)
        assert all(r.status in (MET, NOT_MET) for r in result.requirements)
