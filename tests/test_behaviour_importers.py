"""Importers for garak reports and inspect logs: text stripped, items re-hashed, all probes accounted for.

The logs are small synthetic files in the documented shapes (garak `attempt`/`eval` rows; inspect
`EvalLog` JSON and the `.eval` zip with `header.json` and `samples/`).
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from modelcert.behaviour.importers.common import ImportedRun
from modelcert.behaviour.importers.garak import import_garak
from modelcert.behaviour.importers.inspect_log import import_inspect
from modelcert.policy.fields import DocumentError

KEY = b"k" * 32
SECRET_PROMPT = "SYNTHETIC-PROMPT-TEXT-THAT-MUST-NOT-LEAVE"
SECRET_OUTPUT = "SYNTHETIC-OUTPUT-TEXT-THAT-MUST-NOT-LEAVE"
PI, PI_DET = "promptinject.HijackHateHumans", "promptinject.AttackRogueString"
LI, LI_DET = "latentinjection.LatentInjectionReport", "base.TriggerListDetector"


def attempt(probe: str, detector: str, seq: int, score: float | None, status: int = 2) -> dict[str, Any]:
    return {
        "entry_type": "attempt",
        "uuid": f"{probe}-{seq}",
        "seq": seq,
        "status": status,
        "probe_classname": probe,
        "prompt": {"turns": [{"role": "user", "content": {"text": f"{SECRET_PROMPT} {seq}", "lang": "en"}}]},
        "outputs": [{"text": f"{SECRET_OUTPUT} {seq}", "lang": "en"}],
        "detector_results": {detector: [score]} if status == 2 else {},
    }


def garak_report(
    scores: dict[tuple[str, str], list[float | None]],
    evals: dict[tuple[str, str], dict[str, int]] | None = None,
) -> bytes:
    rows: list[dict[str, Any]] = [
        {"entry_type": "start_run setup", "_config.version": "0.17.1"},
        {"entry_type": "init", "garak_version": "0.17.1", "start_time": "2026-01-01T00:00:00"},
    ]
    for (probe, detector), values in scores.items():
        for seq, score in enumerate(values):
            rows.append(attempt(probe, detector, seq, None, status=1))  # garak logs each attempt twice
            rows.append(attempt(probe, detector, seq, score))
        passed = sum(1 for v in values if v is not None and v < 0.5)
        fails = sum(1 for v in values if v is not None and v >= 0.5)
        nones = sum(1 for v in values if v is None)
        row = {
            "entry_type": "eval",
            "probe": probe,
            "detector": detector,
            "passed": passed,
            "fails": fails,
            "nones": nones,
            "total_evaluated": passed + fails,
            "total_processed": passed + fails + nones,
        }
        row.update((evals or {}).get((probe, detector), {}))
        rows.append(row)
    return "\n".join(json.dumps(r) for r in rows).encode()


GOOD = {(PI, PI_DET): [0.0, 1.0, 0.0, 0.0], (LI, LI_DET): [0.0, 0.0, 1.0]}


def test_garak_report_imports_counts_and_strips_text() -> None:
    run = import_garak(garak_report(GOOD), KEY, ["promptinject", f"{LI}/{LI_DET}"])
    assert run.complete, run.problems
    assert run.harness_version == "0.17.1"
    assert run.counts[f"{PI}/{PI_DET}"] == {"passed": 3, "failed": 1, "unscored": 0}
    assert len(run.items) == 7  # duplicates (status 1 then 2) collapse to one item per attempt
    assert all(len(item.output_digests) == 1 for item in run.items)
    text = repr(run)
    assert SECRET_PROMPT not in text and SECRET_OUTPUT not in text
    again = import_garak(garak_report(GOOD), KEY, [])
    assert again.root == run.root and import_garak(garak_report(GOOD), b"z" * 32, []).root != run.root


def test_expected_probe_that_did_not_run_is_a_problem() -> None:
    """garak skips a detector that fails to load and still exits 0: the import must notice."""
    run = import_garak(
        garak_report(GOOD), KEY, ["promptinject", "dan.Dan_11_0", f"{PI}/mitigation.MitigationBypass"]
    )
    assert not run.complete
    assert any("dan.Dan_11_0 did not run" in p for p in run.problems)
    assert any("mitigation.MitigationBypass did not run" in p for p in run.problems)


def test_eval_rows_that_disagree_with_attempts_are_problems() -> None:
    run = import_garak(garak_report(GOOD, {(PI, PI_DET): {"passed": 4, "fails": 0}}), KEY, [])
    assert any("eval row says 4 passed / 0 failed, attempts say 3 / 1" in p for p in run.problems)


def test_unevaluated_outputs_and_skipped_pairs_are_problems() -> None:
    run = import_garak(garak_report({(PI, PI_DET): [0.0, None]}), KEY, [])
    assert any("1 outputs were not evaluated" in p for p in run.problems)
    skipped = import_garak(garak_report({(PI, PI_DET): [None]}), KEY, [])
    assert any("nothing was evaluated (SKIP)" in p for p in skipped.problems)


def test_legacy_eval_rows_with_passed_and_total() -> None:
    rows = [
        {
            "entry_type": "eval",
            "probe": f"probes.{PI}",
            "detector": f"detectors.{PI_DET}",
            "passed": 8,
            "total": 10,
        }
    ]
    run = import_garak("\n".join(json.dumps(r) for r in rows).encode(), KEY, ["promptinject"])
    assert run.counts == {f"{PI}/{PI_DET}": {"passed": 8, "failed": 2, "unscored": 0}}
    assert run.complete


def test_malformed_garak_rows_are_document_errors() -> None:
    with pytest.raises(DocumentError, match="row 2"):
        import_garak(b'{"entry_type": "init"}\n{not json', KEY)
    with pytest.raises(DocumentError, match="not an object"):
        import_garak(b"[1, 2]", KEY)


def inspect_log(samples: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    log: dict[str, Any] = {
        "version": 2,
        "status": "success",
        "eval": {
            "task": "cyber_uplift",
            "model": "openai-api/local/mock",
            "packages": {"inspect_ai": "0.3.285"},
            "dataset": {"name": "ctf", "samples": 3, "sample_ids": [1, 2, 3]},
        },
        "plan": {"config": {"seed": 42, "temperature": 0.0, "max_tokens": 512}},
        "results": {
            "total_samples": 3,
            "completed_samples": len(samples),
            "scores": [{"name": "includes", "metrics": {"accuracy": {"name": "accuracy", "value": 0.33}}}],
        },
        "samples": samples,
    }
    log.update(overrides)
    return log


def sample(ident: int, value: Any = "I", **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "epoch": 1,
        "input": [{"role": "user", "content": f"{SECRET_PROMPT} {ident}"}],
        "output": {
            "choices": [
                {"message": {"role": "assistant", "content": [{"type": "text", "text": SECRET_OUTPUT}]}}
            ]
        },
        "scores": {"includes": {"value": value, "answer": "x", "explanation": SECRET_OUTPUT}},
        **extra,
    }


def test_inspect_json_log_imports_and_strips_text() -> None:
    data = json.dumps(inspect_log([sample(1, "C"), sample(2, "I"), sample(3, "I")])).encode()
    run = import_inspect(data, KEY, scorer="includes")
    assert run.complete, run.problems
    assert run.counts == {"includes": {"passed": 1, "failed": 2, "unscored": 0}}
    assert run.settings == {
        "task": "cyber_uplift",
        "model": "openai-api/local/mock",
        "seed": "42",
        "temperature": "0.0",
        "max_tokens": "512",
    }
    assert run.harness_version == "0.3.285" and len(run.items) == 3
    assert SECRET_PROMPT not in repr(run) and SECRET_OUTPUT not in repr(run)


def test_inspect_missing_errored_and_unfinished_runs_are_problems() -> None:
    data = json.dumps(
        inspect_log([sample(1), sample(2, error={"message": "sandbox died"})], status="error")
    ).encode()
    run = import_inspect(data, KEY, scorer="includes")
    assert "log status is 'error', not 'success'" in run.problems
    assert "2 of 3 samples completed" in run.problems
    assert "expected sample 3 did not run" in run.problems
    assert "sample 2#1 ended with an error" in run.problems
    unscored = import_inspect(json.dumps(inspect_log([sample(1), sample(2), sample(3, "P")])).encode(), KEY)
    assert unscored.counts["includes"]["unscored"] == 1


def test_inspect_eval_zip_is_read_like_the_json_log() -> None:
    samples = [sample(1, "C"), sample(2, "I"), sample(3, "C")]
    header = inspect_log([])
    header.pop("samples")
    header["results"]["completed_samples"] = 3
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("header.json", json.dumps(header))
        for s in samples:
            archive.writestr(f"samples/{s['id']}_epoch_1.json", json.dumps(s))
        archive.writestr("summaries.json", "[]")
    zipped = import_inspect(buffer.getvalue(), KEY, scorer="includes")
    flat = import_inspect(json.dumps(inspect_log(samples)).encode(), KEY, scorer="includes")
    assert zipped.complete and zipped.counts == flat.counts == {
        "includes": {"passed": 2, "failed": 1, "unscored": 0}
    }
    assert zipped.root == flat.root  # same samples, same salt key: same commitments
    with pytest.raises(DocumentError, match=r"no header\.json"):
        buffer2 = io.BytesIO()
        with zipfile.ZipFile(buffer2, "w") as archive:
            archive.writestr("samples/1_epoch_1.json", "{}")
        import_inspect(buffer2.getvalue(), KEY)


@pytest.mark.property
@settings(max_examples=120, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_arbitrary_logs_give_a_run_or_a_document_error(data: bytes) -> None:
    for importer in (lambda d: import_garak(d, KEY, ["x"]), lambda d: import_inspect(d, KEY)):
        try:
            run = importer(data)
        except DocumentError:
            continue
        assert isinstance(run, ImportedRun)


@pytest.mark.property
@settings(max_examples=80, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(
                [
                    "entry_type",
                    "status",
                    "probe",
                    "detector",
                    "passed",
                    "fails",
                    "probe_classname",
                    "detector_results",
                    "outputs",
                    "prompt",
                ]
            ),
            st.one_of(
                st.none(),
                st.integers(-3, 3),
                st.text(max_size=5),
                st.sampled_from(["attempt", "eval"]),
                st.lists(st.integers(), max_size=2),
                st.dictionaries(st.text(max_size=3), st.lists(st.floats(0, 1), max_size=2)),
            ),
        ),
        max_size=6,
    )
)
def test_odd_garak_rows_never_crash(rows: list[dict[str, Any]]) -> None:
    run = import_garak("\n".join(json.dumps(r) for r in rows).encode(), KEY, [])
    assert isinstance(run.problems, tuple)
