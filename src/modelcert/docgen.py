"""Generate docs/checks/ from the check classes' docstrings: one page per check plus an index.

`python -m modelcert.docgen docs/checks` writes the pages; `--check` fails (exit 1) when the
committed pages differ from what the docstrings say, so CI keeps the docs true.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelcert.checks.base import Check
from modelcert.checks.registry import all_checks


def render_page(check: type[Check]) -> str:
    lines = [
        f"# {check.id}: {check.title}",
        "",
        "| severity | confidence | verdict | CWE |",
        "|---|---|---|---|",
        f"| {check.severity.label} | {check.confidence.label} | {check.verdict.value} | {check.cwe or '-'} |",
        "",
        check.doc(),
        "",
    ]
    if check.remediation:
        lines += ["## Remediation", "", check.remediation, ""]
    origin = f"{check.__module__}.{check.__qualname__}"
    lines += [f"_Generated from `{origin}`; edit the docstring, not this page._", ""]
    return "\n".join(lines)


def render_index(checks: dict[str, type[Check]]) -> str:
    lines = [
        "# Checks",
        "",
        "Every finding modelcert reports carries one of these stable IDs. Ranges: MC1xx code execution,",
        "MC2xx containers and archives, MC3xx weight-file integrity, MC4xx configs and shipped code,",
        "MC5xx backdoor evidence, MC9xx scanner-level (input that could not be analysed).",
        "",
        "| ID | title | severity | verdict |",
        "|---|---|---|---|",
    ]
    for check in checks.values():
        link = f"[{check.id}]({check.id}.md)"
        lines.append(f"| {link} | {check.title} | {check.severity.label} | {check.verdict.value} |")
    lines.append("")
    return "\n".join(lines)


def expected_pages() -> dict[str, str]:
    checks = all_checks()
    pages = {f"{cid}.md": render_page(check) for cid, check in checks.items()}
    pages["README.md"] = render_index(checks)
    return pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", type=Path)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = parser.parse_args(argv)
    pages = expected_pages()
    if args.check:
        stale = [
            name
            for name, text in pages.items()
            if not (args.folder / name).is_file() or (args.folder / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in args.folder.glob("*.md") if p.name not in pages)
        if stale or extra:
            sys.stderr.write(
                f"docs/checks is stale (run `make docs`): changed {stale}, no longer generated {extra}\n"
            )
            return 1
        return 0
    args.folder.mkdir(parents=True, exist_ok=True)
    for old in args.folder.glob("*.md"):
        if old.name not in pages:
            old.unlink()
    for name, text in pages.items():
        (args.folder / name).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
