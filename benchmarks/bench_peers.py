"""modelcert beside picklescan, modelscan, fickling and ModelAudit on the labelled corpus.

Peers live in a scratch venv (default /tmp/peers; never in the project venv). For every corpus sample
(a file or a package folder), every tool runs as its own process, side by side in one pass, warm cache:
  (a) per-sample CLI wall time, median and p90 per tool, over the same samples;
  (b) detection: malicious samples flagged, benign samples flagged (false positives), samples the tool
      errored on or skipped.
How each tool's outcome is read:
  modelcert   JSON summary verdict: suspicious/unscannable/unsafe = flagged, skipped = skipped.
  picklescan  exit 1 = flagged, 2 = error, 0 with "Scanned files: 0" = skipped, else clean.
  modelscan   exit 1 = flagged, 2 = error, 3 = skipped (nothing it can read), 0 = clean.
  fickling    `--check-safety FILE`; exit 1 = flagged, 2 = error. Folders: one run per file (times
              summed), flagged if any file is.
  modelaudit  `scan --format json --no-cache`; exit 1, or exit 2 with a warning/critical issue in its
              JSON = flagged; exit 2 otherwise = error (incomplete coverage). Telemetry disabled.
ModelAudit takes about a second per sample; --modelaudit-every N runs it on every N-th sample only (the
timing table then also lists every tool on exactly that subset).

    .venv/bin/python benchmarks/bench_peers.py --corpus /tmp/mc-corpus --json /tmp/peers.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from builders.corpus import Sample, build_corpus, read_manifest, write_manifest

TOOLS = ("modelcert", "picklescan", "modelscan", "fickling", "modelaudit")
ENV = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "NO_ANALYTICS": "1", "DO_NOT_TRACK": "1"}


@dataclass
class Outcome:
    tool: str
    relpath: str
    label: str
    technique: str
    format: str
    seconds: float
    exit_code: int
    result: str  # flagged | clean | skipped | error


@dataclass
class Run:
    seconds: float
    code: int
    out: str  # stdout


def run(argv: list[str], timeout: float, cwd: Path) -> Run:
    start = time.perf_counter()
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=timeout, env=ENV, cwd=cwd, check=False
        )
    except subprocess.TimeoutExpired:
        return Run(timeout, -9, "")
    return Run(time.perf_counter() - start, done.returncode, done.stdout)


def files_of(path: Path) -> list[Path]:
    return (
        sorted(p for p in path.rglob("*") if p.is_file() and not p.is_symlink()) if path.is_dir() else [path]
    )


# ---- one function per tool: (path) -> (seconds, exit code, result) -------------------------------------


def modelcert(path: Path, args: argparse.Namespace) -> tuple[float, int, str]:
    r = run(
        [str(Path(sys.executable).parent / "modelcert"), "scan", str(path), "--format", "json", "-q"],
        args.timeout,
        args.cwd,
    )
    try:
        verdict = json.loads(r.out)["summary"]["verdict"]
    except (ValueError, KeyError):
        return r.seconds, r.code, "error"
    result = {"clean": "clean", "skipped": "skipped"}.get(verdict, "flagged")
    return r.seconds, r.code, result


def picklescan(path: Path, args: argparse.Namespace) -> tuple[float, int, str]:
    r = run([str(args.peers / "bin" / "picklescan"), "-p", str(path)], args.timeout, args.cwd)
    if r.code == 1:
        return r.seconds, r.code, "flagged"
    if r.code != 0:
        return r.seconds, r.code, "error"
    return r.seconds, r.code, "skipped" if "Scanned files: 0" in r.out else "clean"


def modelscan(path: Path, args: argparse.Namespace) -> tuple[float, int, str]:
    r = run([str(args.peers / "bin" / "modelscan"), "-p", str(path)], args.timeout, args.cwd)
    return r.seconds, r.code, {0: "clean", 1: "flagged", 3: "skipped"}.get(r.code, "error")


def fickling(path: Path, args: argparse.Namespace) -> tuple[float, int, str]:
    seconds, codes = 0.0, []
    for file in files_of(path):
        r = run([str(args.peers / "bin" / "fickling"), "--check-safety", str(file)], args.timeout, args.cwd)
        seconds += r.seconds
        codes.append(r.code)
    code = 1 if 1 in codes else max(codes, default=0)
    return seconds, code, {0: "clean", 1: "flagged"}.get(code, "error")


def modelaudit(path: Path, args: argparse.Namespace) -> tuple[float, int, str]:
    argv = [str(args.peers / "bin" / "modelaudit"), "scan", str(path), "--format", "json", "--no-cache"]
    r = run(argv, args.timeout, args.cwd)
    if r.code == 1:
        return r.seconds, r.code, "flagged"
    if r.code == 0:
        return r.seconds, r.code, "clean"
    try:
        issues = json.loads(r.out[r.out.index("{") : r.out.rindex("}") + 1]).get("issues", [])
    except ValueError:
        issues = []
    serious = any(str(i.get("severity", "")).lower() in {"warning", "critical"} for i in issues)
    return r.seconds, r.code, "flagged" if serious else "error"


RUNNERS: dict[str, Callable[[Path, argparse.Namespace], tuple[float, int, str]]] = {
    "modelcert": modelcert, "picklescan": picklescan, "modelscan": modelscan, "fickling": fickling,
    "modelaudit": modelaudit,
}  # fmt: skip


def versions(peers: Path) -> dict[str, str]:
    from modelcert import __version__

    code = "import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in %r}))"
    out = subprocess.run(
        [str(peers / "bin" / "python"), "-c", code % (TOOLS[1:],)], capture_output=True, text=True, check=True
    ).stdout
    return {"modelcert": __version__, **json.loads(out)}


def compile_modelcert() -> None:
    """Byte-compile modelcert as `pip install` does for the peers (an editable install has no .pyc)."""
    import compileall

    import modelcert

    compileall.compile_dir(Path(modelcert.__file__).parent, quiet=1)


def warm(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            path.read_bytes()


# ---- tables ------------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def timing_table(outcomes: list[Outcome], relpaths: set[str], tools: list[str], title: str) -> str:
    lines = [
        f"**{title}** ({len(relpaths)} samples, one process per sample)",
        "",
        "| tool | median | p90 | mean | total |",
        "|---|---|---|---|---|",
    ]
    for tool in tools:
        times = [o.seconds for o in outcomes if o.tool == tool and o.relpath in relpaths]
        if len(times) == len(relpaths) and times:
            lines.append(
                f"| {tool} | {statistics.median(times) * 1000:.0f} ms | {pct(times, 0.9) * 1000:.0f} ms | "
                f"{statistics.mean(times) * 1000:.0f} ms | {sum(times):.1f} s |"
            )
    return "\n".join(lines)


def detection_table(outcomes: list[Outcome], samples: list[Sample], tools: list[str]) -> str:
    lines = [
        "| tool | samples | malicious flagged | unambiguous payloads flagged | benign flagged (FP) | "
        "errors | skipped |",
        "|---|---|---|---|---|---|---|",
    ]
    known = {s.relpath for s in samples if s.well_known}
    for tool in tools:
        mine = [o for o in outcomes if o.tool == tool]
        bad = [o for o in mine if o.label == "malicious"]
        good = [o for o in mine if o.label == "benign"]
        flagged = sum(o.result == "flagged" for o in bad)
        famous = [o for o in bad if o.relpath in known]
        lines.append(
            f"| {tool} | {len(mine)} | {flagged}/{len(bad)} ({flagged / max(1, len(bad)):.0%}) | "
            f"{sum(o.result == 'flagged' for o in famous)}/{len(famous)} | "
            f"{sum(o.result == 'flagged' for o in good)}/{len(good)} | "
            f"{sum(o.result == 'error' for o in mine)} | {sum(o.result == 'skipped' for o in mine)} |"
        )
    return "\n".join(lines)


def per_format_table(outcomes: list[Outcome], samples: list[Sample], tools: list[str]) -> str:
    formats = sorted({s.format for s in samples if s.label == "malicious"})
    lines = ["| malicious format | samples | " + " | ".join(tools) + " |", "|---|---|" + "---|" * len(tools)]
    for fmt in formats:
        cells = []
        for tool in tools:
            mine = [o for o in outcomes if o.tool == tool and o.format == fmt and o.label == "malicious"]
            cells.append(f"{sum(o.result == 'flagged' for o in mine)}/{len(mine)}" if mine else "-")
        count = sum(s.format == fmt and s.label == "malicious" for s in samples)
        lines.append(f"| {fmt} | {count} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def misses(outcomes: list[Outcome], tool: str) -> str:
    """Malicious samples not flagged and benign samples not clean (flagged, skipped or errored)."""
    expected = {"malicious": "flagged", "benign": "clean"}
    wrong = [o for o in outcomes if o.tool == tool and o.result != expected[o.label]]
    return "\n".join(f"- {o.label} `{o.relpath}` ({o.technique}): {o.result}" for o in wrong) or "- none"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--corpus", type=Path, help="an existing corpus folder (else one is built and deleted)"
    )
    parser.add_argument(
        "--peers", type=Path, default=Path("/tmp/peers"), help="venv holding the peer scanners"
    )
    parser.add_argument("--tools", default=",".join(TOOLS))
    parser.add_argument("--modelaudit-every", type=int, default=1, help="run ModelAudit on every N-th sample")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per process")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    args = parser.parse_args()
    tools = [t for t in args.tools.split(",") if t]
    scratch = None
    if args.corpus is None:
        scratch = Path(tempfile.mkdtemp(prefix="modelcert-corpus-"))
        args.corpus = scratch / "corpus"
        write_manifest(args.corpus, build_corpus(args.corpus))
    args.cwd = Path(tempfile.mkdtemp(prefix="modelcert-peers-cwd-"))  # peers write settings/caches in cwd
    try:
        samples = read_manifest(args.corpus)
        warm(args.corpus)
        compile_modelcert()
        subset = {s.relpath for i, s in enumerate(samples) if i % args.modelaudit_every == 0}
        outcomes: list[Outcome] = []
        started = time.perf_counter()
        for sample in samples:
            for tool in tools:
                if tool == "modelaudit" and sample.relpath not in subset:
                    continue
                seconds, code, result = RUNNERS[tool](args.corpus / sample.relpath, args)
                outcomes.append(
                    Outcome(
                        tool,
                        sample.relpath,
                        sample.label,
                        sample.technique,
                        sample.format,
                        seconds,
                        code,
                        result,
                    )
                )
        wall = time.perf_counter() - started
        names = versions(args.peers)
        print(
            f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {os.cpu_count()} cores; "
            f"run time {wall / 60:.1f} min"
        )
        print("versions: " + ", ".join(f"{t} {names.get(t, '?')}" for t in tools))
        print(
            f"corpus: {len(samples)} samples ({sum(s.label == 'malicious' for s in samples)} malicious, "
            f"{sum(s.label == 'benign' for s in samples)} benign), page cache warm\n"
        )
        every = {s.relpath for s in samples}
        print(
            timing_table(
                outcomes,
                every,
                [t for t in tools if t != "modelaudit" or len(subset) == len(every)],
                "Per-sample wall time, all samples",
            )
        )
        if "modelaudit" in tools and len(subset) < len(every):
            print()
            print(
                timing_table(
                    outcomes,
                    subset,
                    tools,
                    f"Per-sample wall time, every {args.modelaudit_every}th sample (the ModelAudit subset)",
                )
            )
        print("\n" + detection_table(outcomes, samples, tools))
        print("\n" + per_format_table(outcomes, samples, tools))
        print("\nmodelcert misclassifications:\n" + misses(outcomes, "modelcert"))
        print(f"\ncommand: {' '.join([Path(sys.executable).name, *sys.argv])}")
        if args.json:
            args.json.write_text(
                json.dumps({"versions": names, "outcomes": [asdict(o) for o in outcomes]}, indent=1)
            )
    finally:
        shutil.rmtree(args.cwd, ignore_errors=True)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
