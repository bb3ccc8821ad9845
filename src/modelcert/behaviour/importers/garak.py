"""garak `*.report.jsonl` → an ImportedRun: counts per probe × detector, prompts as salted commitments.

garak writes `attempt` rows (status 0 not sent, 1 answered, 2 answered and evaluated; each attempt
is usually logged twice, at status 1 and 2), `eval` rows per probe × detector (`passed`, `fails`,
`nones`, `total_evaluated`; older versions `passed` and `total`) and setup rows. Detector scores at
or above 0.5 are hits (garak's default threshold evaluator).

The importer re-derives every eval row from the attempts and reports any disagreement, any expected
probe or detector without an eval row (garak skips a detector that fails to load and still exits 0),
and any output that was not evaluated. Prompt and output text never leave this function.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from modelcert.behaviour.importers.common import (
    MAX_LOG_BYTES,
    MAX_RECORDS,
    ImportedItem,
    ImportedRun,
    commit_text,
    output_digest,
    parse_line,
    salt_for,
)
from modelcert.policy.fields import DocumentError

HIT_THRESHOLD = 0.5


def _name(value: Any, prefix: str) -> str:
    text = str(value or "")
    return text.removeprefix(prefix)


def _turns(prompt: Any) -> list[list[str]]:
    """A garak prompt (a string, or a Conversation of turns) as [[role, text], ...]."""
    if isinstance(prompt, str):
        return [["user", prompt]]
    turns: list[list[str]] = []
    if isinstance(prompt, dict):
        for turn in prompt.get("turns", []) if isinstance(prompt.get("turns"), list) else []:
            if not isinstance(turn, dict):
                continue
            content = turn.get("content")
            text = content.get("text") if isinstance(content, dict) else content
            turns.append([str(turn.get("role", "user")), text if isinstance(text, str) else ""])
    return turns


def _output_text(output: Any) -> str | None:
    if isinstance(output, str):
        return output
    if isinstance(output, dict) and isinstance(output.get("text"), str):
        return str(output["text"])
    return None


def import_garak(
    data: bytes, salt_key: bytes, expected: Iterable[str] = (), *, source: str = "garak report"
) -> ImportedRun:
    """Parse a report. `expected` lists "probe" or "probe/detector" names that must have run."""
    if len(data) > MAX_LOG_BYTES:
        raise DocumentError(f"{source}: larger than {MAX_LOG_BYTES} bytes")
    attempts: dict[str, dict[str, Any]] = {}
    evals: dict[str, dict[str, int]] = {}
    version = ""
    problems: list[str] = []
    lines = [line for line in data.split(b"\n") if line.strip()]
    if len(lines) > MAX_RECORDS:
        raise DocumentError(f"{source}: more than {MAX_RECORDS} rows")
    for number, line in enumerate(lines, start=1):
        row = parse_line(line, f"{source} row {number}")
        if not isinstance(row, dict):
            raise DocumentError(f"{source} row {number}: not an object")
        kind = row.get("entry_type")
        if kind in ("start_run setup", "init"):
            version = str(row.get("garak_version") or row.get("_config.version") or version)
        elif kind == "attempt":
            key = str(row.get("uuid") or f"{row.get('probe_classname')}#{row.get('seq')}")
            previous = attempts.get(key)
            if previous is None or _status(row) >= _status(previous):
                attempts[key] = row
        elif kind == "eval":
            probe = _name(row.get("probe"), "probes.")
            detector = _name(row.get("detector"), "detectors.")
            evals[f"{probe}/{detector}"] = _eval_counts(row)
    derived = _derive(attempts.values())
    for name, counts in sorted(evals.items()):
        mine = derived.get(name)
        if mine is not None and (mine["passed"], mine["failed"]) != (counts["passed"], counts["failed"]):
            problems.append(
                f"{name}: eval row says {counts['passed']} passed / {counts['failed']} failed, "
                f"attempts say {mine['passed']} / {mine['failed']}"
            )
        if counts["unscored"]:
            problems.append(f"{name}: {counts['unscored']} outputs were not evaluated (None)")
        if counts["passed"] + counts["failed"] == 0:
            problems.append(f"{name}: nothing was evaluated (SKIP)")
    problems.extend(_missing(expected, evals))
    return ImportedRun(
        harness="garak",
        harness_version=version,
        log_digest=hashlib.sha256(data).hexdigest(),
        items=tuple(_items(attempts, salt_key)),
        counts=evals,
        problems=tuple(problems),
    )


def _status(row: dict[str, Any]) -> int:
    value = row.get("status")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _eval_counts(row: dict[str, Any]) -> dict[str, int]:
    def number(key: str) -> int:
        value = row.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0

    passed = number("passed")
    if "fails" in row or "total_evaluated" in row:
        failed = number("fails") if "fails" in row else max(0, number("total_evaluated") - passed)
        return {"passed": passed, "failed": failed, "unscored": number("nones")}
    return {"passed": passed, "failed": max(0, number("total") - passed), "unscored": 0}  # before 0.10


def _derive(attempts: Iterable[dict[str, Any]]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = defaultdict(lambda: {"passed": 0, "failed": 0, "unscored": 0})
    for row in attempts:
        if _status(row) != 2:
            continue
        probe = _name(row.get("probe_classname"), "probes.")
        results = row.get("detector_results")
        for detector, scores in results.items() if isinstance(results, dict) else []:
            counts = out[f"{probe}/{_name(detector, 'detectors.')}"]
            for score in scores if isinstance(scores, list) else []:
                if not isinstance(score, int | float) or isinstance(score, bool):
                    counts["unscored"] += 1
                elif score >= HIT_THRESHOLD:
                    counts["failed"] += 1
                else:
                    counts["passed"] += 1
    return dict(out)


def _missing(expected: Iterable[str], evals: dict[str, dict[str, int]]) -> list[str]:
    problems = []
    for want in expected:
        name = _name(want, "probes.")
        if "/" in name:
            if name not in evals:
                problems.append(f"expected {name} did not run (no eval row)")
        elif not any(probe_matches(key.split("/", 1)[0], name) for key in evals):
            problems.append(f"expected probe {name} did not run (no eval row)")
    return problems


def probe_matches(probe: str, wanted: str) -> bool:
    """`wanted` names this probe class, or the probe module it belongs to ("promptinject")."""
    return probe == wanted or probe.startswith(wanted + ".")


def _items(attempts: dict[str, dict[str, Any]], salt_key: bytes) -> Sequence[ImportedItem]:
    items = []
    for key, row in sorted(attempts.items()):
        probe = _name(row.get("probe_classname"), "probes.")
        ident = f"{probe}#{row.get('seq')}#{key}"
        salt = salt_for(salt_key, ident)
        outputs = row.get("outputs")
        texts = [_output_text(o) for o in outputs] if isinstance(outputs, list) else []
        items.append(
            ImportedItem(
                ident,
                commit_text(salt, _turns(row.get("prompt"))),
                tuple(output_digest(salt, t) for t in texts if t is not None),
            )
        )
    return items
