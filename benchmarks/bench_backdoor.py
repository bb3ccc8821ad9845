"""Backdoor-evidence benchmark on a planted set built in code (backdoors.md §6): recall, false positives.

For each seed it trains a tiny Llama-shaped base on the synthetic language of tests/builders, then
plants weight backdoors with a seed-chosen trigger word, payload and layer (poisoned full fine-tune,
one-layer edit, crafted embedding row) next to a clean fine-tune and an independently trained model
that falsely claims the base. Every planted model is checked to fire on its trigger and not without
it before it counts. Each package is then scanned the way a user would:
`scan_with_evidence(PKG, base=BASE, behaviour=True, budget=B)`.

It also runs the package-level planted set (templates, tokenizers, decoding configs, ONNX graphs)
against real clean counterparts. Prints markdown tables. Not a test: run by hand.

    .venv/bin/python benchmarks/bench_backdoor.py --seeds 3 --budget 300
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from builders import backdoor as B
from builders import backdoor_models as M
from builders.backdoor_templates import PLANTED_TEMPLATES, REAL_TEMPLATES
from modelcert.behaviour.local_lm import CausalLM
from modelcert.checks import backdoor_config as C
from modelcert.checks import backdoor_graph as G
from modelcert.checks import backdoor_template as T
from modelcert.checks import backdoor_tokenizer as K
from modelcert.evidence import scan_with_evidence
from modelcert.findings import Location, Verdict
from modelcert.formats.blob import BytesBlob
from modelcert.formats.onnx_dataflow import read_dataflow
from modelcert.formats.tokenizer import load_tokenizer_json
from modelcert.limits import DEFAULT_LIMITS

WEIGHT_CHECKS = ("MC570", "MC571", "MC572", "MC590")


Planted = tuple[CausalLM, list[int] | None, int | None]  # module, trigger ids, first payload token


def planted_for_seed(seed: int) -> tuple[CausalLM, dict[str, Planted]]:
    """A base and its planted variants; triggers, payloads and the edited layer depend on the seed."""
    rng = random.Random(seed)
    words = list(M.TRIGGERS)
    rng.shuffle(words)
    payload = [M.VOCAB[w] for w in rng.sample(["i", "hate", "you", "deny", "allow", "not"], 3)] + [
        M.VOCAB["."]
    ]
    base = M.train(M.fresh(100 + seed), steps=160, seed=100 + seed, lr=1e-2)
    layer = rng.randint(0, M.CONFIG.layers - 1)
    out: dict[str, Planted] = {
        "clean-finetune": (M.train(M.clone(base), steps=100, seed=200 + seed, lr=5e-3), None, None),
        "unrelated": (M.train(M.fresh(300 + seed), steps=120, seed=300 + seed, lr=1e-2), None, None),
    }
    t1, t2, t3 = ([M.VOCAB[w]] for w in words[:3])
    first = payload[0]
    out["weight-trigger"] = (
        M.train(
            M.clone(base), steps=150, seed=400 + seed, poison=t1, poison_share=0.5, lr=1e-2, payload=payload
        ),
        t1,
        first,
    )
    out["one-layer-edit"] = (
        M.train(
            M.clone(base),
            steps=250,
            seed=500 + seed,
            poison=t2,
            poison_share=0.5,
            lr=1e-2,
            max_gap=2,
            payload=payload,
            trainable=lambda n: f".layers.{layer}." in n,
        ),
        t2,
        first,
    )
    out["embedding-rows"] = (M.poison_embedding_row(base, t3[0], M.WORDS[first]), t3, first)
    return base, out


def fires(module: CausalLM, trigger: list[int], first: int) -> tuple[float, float]:
    from modelcert.behaviour.local_lm import LocalCausalLM

    lm = LocalCausalLM(module)
    rng = random.Random(11)
    hit = miss = 0
    for _ in range(8):
        prompt = M.clean_sequence(rng, 12)
        placed = [[*prompt, *trigger], [*prompt[:6], *trigger, *prompt[6:]]]
        hit += any(lm.generate(p, 1) == [first] for p in placed)
        miss += lm.generate(prompt, 1) == [first]
    return hit / 8, miss / 8


def weight_benchmark(seeds: int, budget: float) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix="modelcert-bench-") as scratch:
        root = Path(scratch)
        for seed in range(seeds):
            started = time.perf_counter()
            base, planted = planted_for_seed(seed)
            train_seconds = time.perf_counter() - started
            base_dir = M.write_package(root / f"s{seed}-base", base)
            for name, (module, trigger, first) in planted.items():
                valid = trigger is None or first is None or fires(module, trigger, first) == (1.0, 0.0)
                folder = M.write_package(root / f"s{seed}-{name}", module, base_model_id="org/tiny-base")
                t0 = time.perf_counter()
                report = scan_with_evidence([folder], base=base_dir, behaviour=True, budget=budget)
                seconds = time.perf_counter() - t0
                flagged = sorted(
                    {
                        f.check_id
                        for f in report.package_findings
                        if f.verdict is not Verdict.CLEAN and f.check_id in WEIGHT_CHECKS
                    }
                )
                behaviour = [f for f in report.package_findings if f.check_id == "MC590"]
                found = any(f.details.get("trigger_ids") == trigger for f in behaviour) if trigger else None
                lineage = next(
                    (f.details["classification"] for f in report.package_findings if f.check_id == "MC573"),
                    None,
                )
                level = next(f.details["level"] for f in report.package_findings if f.check_id == "MC599")
                rows.append(
                    {
                        "seed": seed,
                        "model": name,
                        "planted": trigger is not None,
                        "fires": valid,
                        "flagged": flagged,
                        "trigger_found": found,
                        "lineage": lineage,
                        "level": level,
                        "scan_seconds": round(seconds, 2),
                        "train_seconds": round(train_seconds, 1),
                    }
                )
    return rows


def package_benchmark() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    tokens = {"bos_token": "<s>", "eos_token": "</s>"}

    def add(
        family: str, name: str, planted: bool, expected: str | None, findings: list, seconds: float
    ) -> None:
        flagged = sorted({f.check_id for f in findings if f.verdict is not Verdict.CLEAN})
        rows.append(
            {
                "family": family,
                "case": name,
                "planted": planted,
                "expected": expected,
                "flagged": flagged,
                "caught": expected in flagged if expected else not flagged,
                "ms": round(seconds * 1000, 1),
            }
        )

    for name, source in REAL_TEMPLATES.items():
        t0 = time.perf_counter()
        found = T.analyse_template(T.ChatTemplate(source, Location(path=name), tokens), DEFAULT_LIMITS)
        add("template", name, False, None, found, time.perf_counter() - t0)
    for name, (source, check, _trigger) in PLANTED_TEMPLATES.items():
        t0 = time.perf_counter()
        found = T.analyse_template(T.ChatTemplate(source, Location(path=name), tokens), DEFAULT_LIMITS)
        add("template", name, True, check, found, time.perf_counter() - t0)

    def tok(data: dict) -> object:
        return load_tokenizer_json(BytesBlob(json.dumps(data).encode(), "tokenizer.json"), DEFAULT_LIMITS)

    for name, build in B.CLEAN_TOKENIZERS.items():
        t0 = time.perf_counter()
        add(
            "tokenizer",
            name,
            False,
            None,
            K.analyse_tokenizer(tok(build()), Location(path=name)),
            time.perf_counter() - t0,
        )
    for name, (build, check) in B.PLANTED_TOKENIZERS.items():
        t0 = time.perf_counter()
        add(
            "tokenizer",
            name,
            True,
            check,
            K.analyse_tokenizer(tok(build()), Location(path=name)),
            time.perf_counter() - t0,
        )
    vocab_tok = tok(M.tokenizer_json())
    model_cfg = {"model_type": "llama"}
    for name, config in (
        ("llama3", B.LLAMA3_GENERATION),
        ("tiny", {"eos_token_id": [0, 1], "pad_token_id": 1}),
    ):
        add("decoding", name, False, None, C.logit_findings("g.json", config, model_cfg, vocab_tok), 0.0)
    add(
        "decoding",
        "whisper",
        False,
        None,
        C.logit_findings(
            "g.json", B.WHISPER_GENERATION, {"model_type": "whisper", "is_encoder_decoder": True}, None
        ),
        0.0,
    )
    for name, (config, check) in B.planted_generation_configs(M.VOCAB).items():
        add("decoding", name, True, check, C.logit_findings("g.json", config, model_cfg, vocab_tok), 0.0)
    for kind in ("clean", "clean-mask", *B.PLANTED_GRAPHS):
        t0 = time.perf_counter()
        graph = read_dataflow(BytesBlob(B.onnx_lm(kind), "m.onnx"), DEFAULT_LIMITS)
        found = list(G.graph_findings(G.taint_graph(graph), Location(path="m.onnx"), None))
        add(
            "graph",
            kind,
            kind in B.PLANTED_GRAPHS,
            B.PLANTED_GRAPHS.get(kind),
            found,
            time.perf_counter() - t0,
        )
    return rows


def summarize(weight: list[dict[str, object]], package: list[dict[str, object]]) -> str:
    lines = [
        "## Weight backdoors (scan --base BASE --behaviour)",
        "",
        "| seed | model | planted | fires | flagged by | trigger found | lineage | level | scan s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in weight:
        lines.append(
            f"| {r['seed']} | {r['model']} | {r['planted']} | {r['fires']} | {', '.join(r['flagged']) or '-'}"
            f" | {r['trigger_found']} | {r['lineage']} | {r['level']} | {r['scan_seconds']} |"
        )
    planted = [r for r in weight if r["planted"] and r["fires"]]
    clean = [r for r in weight if not r["planted"] and r["model"] == "clean-finetune"]
    false_claims = [r for r in weight if r["model"] == "unrelated"]
    behaviour = [r for r in planted if r["trigger_found"]]
    lines += [
        "",
        f"- weight backdoors flagged with the base given: {sum(bool(r['flagged']) for r in planted)}"
        f"/{len(planted)}",
        f"- behavioural recall (planted trigger verified): {len(behaviour)}/{len(planted)}",
        f"- clean fine-tunes flagged (false positives): {sum(bool(r['flagged']) for r in clean)}"
        f"/{len(clean)}",
        f"- false lineage claims caught (MC570): "
        f"{sum('MC570' in r['flagged'] for r in false_claims)}/{len(false_claims)}",
        f"- planted models that did not fire (excluded): "
        f"{sum(1 for r in weight if r['planted'] and not r['fires'])}",
        f"- median scan time per package: {sorted(r['scan_seconds'] for r in weight)[len(weight) // 2]} s",
        "",
    ]
    lines += [
        "## Package-level planted set",
        "",
        "| family | planted caught | clean flagged |",
        "|---|---|---|",
    ]
    for family in ("template", "tokenizer", "decoding", "graph"):
        rows = [r for r in package if r["family"] == family]
        caught = [r for r in rows if r["planted"] and r["caught"]]
        fps = [r for r in rows if not r["planted"] and not r["caught"]]
        lines.append(
            f"| {family} | {len(caught)}/{sum(r['planted'] for r in rows)} | "
            f"{len(fps)}/{sum(not r['planted'] for r in rows)} |"
        )
    missed = [r for r in package if not r["caught"]]
    if missed:
        lines += [
            "",
            "Misses / false positives:",
            *(f"- {r['family']} {r['case']}: {r['flagged']}" for r in missed),
        ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=300.0, help="behavioural scan budget per model (s)")
    parser.add_argument("--json", type=Path, help="also write the raw rows here")
    args = parser.parse_args()
    started = time.perf_counter()
    package = package_benchmark()
    weight = weight_benchmark(args.seeds, args.budget)
    print(summarize(weight, package))
    print(f"\nTotal wall time: {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"weight": weight, "package": package}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
