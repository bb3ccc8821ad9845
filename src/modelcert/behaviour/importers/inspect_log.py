"""inspect-ai eval logs (`.json`, or the `.eval` zip) → an ImportedRun with text stripped.

A log holds `status`, `eval` (task, model, `dataset.sample_ids`), `plan.config` (seed, temperature…),
`results` (`total_samples`, `completed_samples`, `scores`) and `samples` (input, output, `scores`
per scorer, `error`). The `.eval` format is a zip with `header.json` and one `samples/<id>_epoch_<n>.json`
per sample. Inspect logs carry no dataset digest, so the importer re-hashes every sample's input
with a salt into commitments, and checks that every expected sample ran, finished without error and
was scored by the expected scorer. Score values: "C" counts as passed, "I" as failed; other values
(partial "P", no answer "N", missing) as unscored — map your task so that "C" means the safe outcome.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
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

MAX_MEMBER_BYTES = 256 * 1024 * 1024
PASSED_VALUES = ("C", 1)  # 1 and 1.0 compare equal; booleans are mapped to 0/1 first
FAILED_VALUES = ("I", 0)


def _read_log(data: bytes, source: str) -> tuple[dict[str, Any], list[Any]]:
    """(header, samples) from either format."""
    if len(data) > MAX_LOG_BYTES:
        raise DocumentError(f"{source}: larger than {MAX_LOG_BYTES} bytes")
    if not data.startswith(b"PK"):
        doc = parse_line(data, source)
        if not isinstance(doc, dict):
            raise DocumentError(f"{source}: not an inspect log object")
        listed = doc.get("samples")
        return doc, listed if isinstance(listed, list) else []
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
        if len(infos) > MAX_RECORDS:
            raise DocumentError(f"{source}: more than {MAX_RECORDS} members")
        header: Any = None
        samples: list[Any] = []
        for info in infos:
            if info.file_size > MAX_MEMBER_BYTES:
                raise DocumentError(f"{source}: member {info.filename} larger than {MAX_MEMBER_BYTES} bytes")
            if info.filename == "header.json":
                header = parse_line(archive.read(info), f"{source}:header.json")
            elif info.filename.startswith("samples/") and info.filename.endswith(".json"):
                samples.append(parse_line(archive.read(info), f"{source}:{info.filename}"))
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise DocumentError(f"{source}: not a readable .eval archive ({exc})") from None
    if not isinstance(header, dict):
        raise DocumentError(f"{source}: no header.json")
    return header, samples


def _turns(value: Any) -> list[list[str]]:
    if isinstance(value, str):
        return [["user", value]]
    turns = []
    for message in value if isinstance(value, list) else []:
        if isinstance(message, dict):
            turns.append([str(message.get("role", "user")), _text(message.get("content"))])
    return turns


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


def _output(sample: dict[str, Any]) -> str | None:
    output = sample.get("output")
    choices = output.get("choices") if isinstance(output, dict) else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        message = choices[0].get("message")
        if isinstance(message, dict):
            return _text(message.get("content"))
    return None


def _dig(obj: Any, *keys: str) -> Any:
    for key in keys:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def import_inspect(
    data: bytes,
    salt_key: bytes,
    *,
    scorer: str | None = None,
    expected_ids: Iterable[str] | None = None,
    source: str = "inspect log",
) -> ImportedRun:
    """Parse a log. Expected samples default to the log's own `eval.dataset.sample_ids`."""
    header, samples = _read_log(data, source)
    problems: list[str] = []
    status = header.get("status")
    if status != "success":
        problems.append(f"log status is {status!r}, not 'success'")
    total = _dig(header, "results", "total_samples")
    completed = _dig(header, "results", "completed_samples")
    if isinstance(total, int) and isinstance(completed, int) and completed < total:
        problems.append(f"{completed} of {total} samples completed")
    declared = _dig(header, "eval", "dataset", "sample_ids")
    wanted = [str(i) for i in (expected_ids if expected_ids is not None else declared or [])]
    counts: dict[str, dict[str, int]] = {}
    items: list[ImportedItem] = []
    seen: dict[str, bool] = {}
    for sample in samples:
        if not isinstance(sample, dict):
            continue
        ident = f"{sample.get('id')}#{sample.get('epoch', 1)}"
        sample_ok = not sample.get("error")
        if not sample_ok:
            problems.append(f"sample {ident} ended with an error")
        raw_scores = sample.get("scores")
        scores: dict[str, Any] = raw_scores if isinstance(raw_scores, dict) else {}
        if scorer is not None and scorer not in scores:
            problems.append(f"sample {ident} has no {scorer!r} score")
            sample_ok = False
        seen[str(sample.get("id"))] = seen.get(str(sample.get("id")), True) and sample_ok
        for name, score in scores.items():
            _count(counts.setdefault(str(name), {"passed": 0, "failed": 0, "unscored": 0}), score)
        salt = salt_for(salt_key, ident)
        reply = _output(sample)
        items.append(
            ImportedItem(
                ident,
                commit_text(salt, _turns(sample.get("input"))),
                (output_digest(salt, reply),) if reply is not None else (),
            )
        )
    problems.extend(f"expected sample {i} did not run" for i in wanted if i not in seen)
    problems.extend(f"expected sample {i} is incomplete" for i in wanted if seen.get(i) is False)
    return ImportedRun(
        harness="inspect",
        harness_version=str(_dig(header, "eval", "packages", "inspect_ai") or ""),
        log_digest=hashlib.sha256(data).hexdigest(),
        items=tuple(sorted(items, key=lambda it: it.key)),
        counts=counts,
        problems=tuple(_dedupe(problems)),
        settings=_settings(header),
    )


def _count(bucket: dict[str, int], score: Any) -> None:
    value = score.get("value") if isinstance(score, dict) else None
    if isinstance(value, bool):
        value = int(value)
    if value in PASSED_VALUES:
        bucket["passed"] += 1
    elif value in FAILED_VALUES:
        bucket["failed"] += 1
    else:
        bucket["unscored"] += 1


def _settings(header: dict[str, Any]) -> dict[str, Any]:
    """Task, model and the generation settings that matter for reproducibility (no floats)."""
    config = _dig(header, "plan", "config")
    out: dict[str, Any] = {
        "task": str(_dig(header, "eval", "task") or ""),
        "model": str(_dig(header, "eval", "model") or ""),
    }
    if isinstance(config, dict):
        for key in ("seed", "temperature", "max_tokens", "top_p"):
            if key in config and config[key] is not None:
                out[key] = str(config[key])
    return out


def _dedupe(values: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(values))
