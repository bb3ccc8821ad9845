"""`modelcert comply PATH --profile P`: documentation and behaviour against a jurisdiction profile.

Prints the per-clause table (met / not met / not measurable, with the evidence level reached) or
the evidence document as JSON; exit 0 only when every automatable clause is met.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from modelcert.errors import ModelcertError

if TYPE_CHECKING:
    from modelcert.behaviour.target import Target

EXIT_OK, EXIT_FAIL = 0, 1
LOG_SALT_ENV = "MODELCERT_LOG_SALT_KEY"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH", help="model folder (or a single GGUF file)")
    parser.add_argument(
        "--profile", required=True, help="eu-gpai, eu-gpai-systemic, nist-600-1, cn-gbt45654, owasp-llm"
    )
    parser.add_argument("--pack", default="modelcert-core", help="built-in pack name or a pack file (YAML)")
    parser.add_argument(
        "--target",
        help="model to probe: mock, mock:reckless, http://127.0.0.1:PORT (OpenAI-compatible), "
        "local (this package; needs transformers) or local:PATH",
    )
    parser.add_argument("--model", default="default", help="model name sent to an HTTP target")
    parser.add_argument("--allow-remote", action="store_true", help="allow a non-loopback HTTP target")
    parser.add_argument("--api-key-env", metavar="VAR", help="environment variable holding the HTTP API key")
    parser.add_argument(
        "--bank", action="append", default=[], metavar="DATASET=FILE", help="your own bank for a dataset"
    )
    parser.add_argument(
        "--log", action="append", default=[], metavar="CHECK=FILE", help="garak/inspect log for a check"
    )
    parser.add_argument("--budget", type=float, metavar="SECONDS", help="stop probing after this long")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--audience",
        choices=("public", "consortium", "private"),
        default="public",
        help="disclosure tier of the JSON evidence (default public: no prompt text)",
    )
    parser.add_argument(
        "--predicate", type=Path, metavar="FILE", help="also write the certificate fragment here"
    )
    parser.add_argument("-o", "--output", type=Path, help="write the report here instead of stdout")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every requirement and clause title"
    )


def _pairs(values: list[str], what: str) -> dict[str, str]:
    out = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key or not path:
            raise ModelcertError(f"--{what} expects NAME=FILE, got {value!r}")
        out[key] = path
    return out


def _target(args: argparse.Namespace) -> Target | None:
    spec = args.target
    if spec is None:
        return None
    if spec in ("mock", "mock:cautious"):
        from modelcert.behaviour.mock import cautious_mock

        return cautious_mock()
    if spec == "mock:reckless":
        from modelcert.behaviour.mock import reckless_mock

        return reckless_mock()
    if spec == "local" or spec.startswith("local:"):
        from modelcert.behaviour.local_target import TransformersTarget

        folder = Path(spec.removeprefix("local:")) if ":" in spec else Path(args.path)
        same = folder.resolve() == Path(args.path).resolve()
        return TransformersTarget(folder, binding="package" if same else "other-folder")
    if spec.startswith(("http://", "https://")):
        from modelcert.behaviour.http_target import OpenAICompatTarget

        return OpenAICompatTarget(
            spec, args.model, allow_remote=args.allow_remote, api_key_env=args.api_key_env
        )
    raise ModelcertError(f"--target {spec!r}: use mock, mock:reckless, http://HOST:PORT, local or local:PATH")


def run(args: argparse.Namespace) -> int:
    from modelcert.behaviour.datasets import load_bank_file
    from modelcert.compliance.engine import RunOptions, run_compliance
    from modelcert.compliance.evidence import compliance_predicate
    from modelcert.compliance.packs import load_pack
    from modelcert.compliance.report import render_json, render_text
    from modelcert.compliance.results import MET

    pack = load_pack(args.pack)
    pack.profile(args.profile)
    banks = {name: load_bank_file(Path(path)) for name, path in _pairs(args.bank, "bank").items()}
    logs = {}
    for check, path in _pairs(args.log, "log").items():
        try:
            logs[check] = Path(path).read_bytes()
        except OSError as exc:
            raise ModelcertError(f"--log {check}: cannot read {path}: {exc.strerror}") from None
    options = RunOptions(target=_target(args), banks=banks, logs=logs, budget_seconds=args.budget)
    salt_hex = os.environ.get(LOG_SALT_ENV)
    if salt_hex:
        try:
            options.log_salt_key = bytes.fromhex(salt_hex)
        except ValueError:
            raise ModelcertError(f"{LOG_SALT_ENV} must be hex") from None
    try:
        result = run_compliance(args.path, pack, args.profile, options)
    finally:
        close = getattr(options.target, "close", None)
        if callable(close):
            close()
    text = (
        render_json(result, args.audience)
        if args.format == "json"
        else render_text(result, verbose=args.verbose)
    )
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if args.predicate:
        fragment = compliance_predicate(result, args.audience)
        args.predicate.write_text(json.dumps(fragment, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return EXIT_OK if result.status == MET else EXIT_FAIL
