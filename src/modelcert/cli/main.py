"""`modelcert` entry point: argument parsing and the one place errors become exit code 2.

Subcommand modules are imported only when chosen, so `modelcert --version` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from modelcert import __version__

# subcommand -> (module, one-line help). Each module has add_arguments(parser) and run(args) -> int.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "scan": ("modelcert.cli.scan", "scan model files, folders and archives for code, exploits and tampering"),
    "checks": ("modelcert.cli.checks", "list every check with its ID, severity and title"),
    "keys": ("modelcert.cli.keys", "generate certifier keys; assemble a TRUST.json"),
    "certify": ("modelcert.cli.certify", "scan, apply a policy and sign a certificate (or co-sign one)"),
    "verify": ("modelcert.cli.verify", "verify certificates offline: integrity, signatures, quorum"),
    "serve": ("modelcert.cli.serve", "run the registry service (API and web pages)"),
    "publish": ("modelcert.cli.publish", "publish certificates, releases, status changes to a registry"),
    "status": ("modelcert.cli.status", "is this model current? ask a registry or check a stapled statement"),
    "log": ("modelcert.cli.log", "verify transparency-log proofs and checkpoint consistency"),
    "witness": ("modelcert.cli.witness", "check a registry log's consistency and cosign its checkpoint"),
    "comply": ("modelcert.cli.comply", "judge documentation and behaviour against a safety-standard profile"),
}

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_ERROR = 2


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's formatter without its `import shutil` (and bz2/lzma with it) on every parser built."""

    def __init__(self, prog: str) -> None:
        try:
            columns = int(os.environ.get("COLUMNS", "")) or os.get_terminal_size().columns
        except (ValueError, OSError):
            columns = 80
        super().__init__(prog, width=max(columns - 2, 20))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        formatter_class=_HelpFormatter,
        prog="modelcert",
        description="Scan, certify and verify open-weight model packages.",
        epilog="Exit codes: 0 clean / pass, 1 unsafe or policy failed, 2 error.",
    )
    parser.add_argument("--version", action="version", version=f"modelcert {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in SUBCOMMANDS.items():
        sub.add_parser(name, help=help_text, description=help_text, formatter_class=_HelpFormatter)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or args_list[0] not in SUBCOMMANDS:
        parser = build_parser()  # only for --help / --version / usage errors: a subcommand builds its own
        try:
            parser.parse_args(args_list)
        except SystemExit as exc:  # --help / --version / usage errors
            return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    name = args_list[0]
    module = importlib.import_module(SUBCOMMANDS[name][0])
    sub_parser = argparse.ArgumentParser(
        prog=f"modelcert {name}", description=SUBCOMMANDS[name][1], formatter_class=_HelpFormatter
    )
    module.add_arguments(sub_parser)
    try:
        args = sub_parser.parse_args(args_list[1:])
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else EXIT_ERROR
    from modelcert.errors import ModelcertError

    try:
        return int(module.run(args))
    except ModelcertError as exc:
        print(f"modelcert: error: {exc.diagnostics()}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("modelcert: interrupted", file=sys.stderr)
        return EXIT_ERROR


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
