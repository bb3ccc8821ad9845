"""`modelcert serve`: run the registry (JSON API + web pages) with uvicorn.

One command starts a self-contained registry: `modelcert serve` keeps its SQLite database, its Ed25519
registry key and a generated admin token in ./modelcert-registry (or --data-dir). PostgreSQL: pass
`--database postgresql://user@host/db`. Settings can also come from a YAML file (--config).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from modelcert.errors import ModelcertError

EXIT_OK = 0
DEFAULT_PORT = 8470


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, default=Path("modelcert-registry"), help="database, key, admin token"
    )
    parser.add_argument("--config", type=Path, help="YAML file with ServiceConfig settings")
    parser.add_argument("--database", metavar="URL", help="SQLAlchemy URL (default: SQLite in --data-dir)")
    parser.add_argument("--origin", help="log name in checkpoints, e.g. registry.example.org/modelcert")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})")
    parser.add_argument("--min-certifiers", type=int, help="quorum shown on model pages (default 1)")
    parser.add_argument("--min-jurisdictions", type=int, help="jurisdictions shown as required (default 1)")
    parser.add_argument("--rate-limit", type=int, metavar="N", help="writes per minute per key (default 120)")
    parser.add_argument("--rate-burst", type=int, metavar="N", help="writes at once per key (default 30)")
    parser.add_argument(
        "--log-level", default="warning", choices=("critical", "error", "warning", "info", "debug")
    )


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from modelcert.service.app import create_app
    from modelcert.service.config import apply_settings, load_config_file, prepare_data_dir

    try:
        config, generated_token = prepare_data_dir(args.data_dir)
    except OSError as exc:
        raise ModelcertError(f"cannot prepare {args.data_dir}: {exc.strerror}") from None
    if args.config is not None:
        config = load_config_file(args.config, config)
    overrides = {
        "database_url": args.database,
        "origin": args.origin,
        "min_certifiers": args.min_certifiers,
        "min_jurisdictions": args.min_jurisdictions,
        "rate_limit_per_minute": args.rate_limit,
        "rate_limit_burst": args.rate_burst,
    }
    config = apply_settings({k: v for k, v in overrides.items() if v is not None}, config, Path.cwd())
    app = create_app(config)
    print(f"modelcert registry {config.origin} on http://{args.host}:{args.port}/", file=sys.stderr)
    if generated_token is not None:
        print(f"admin token written to {args.data_dir / 'admin-token'} (mode 0600)", file=sys.stderr)
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)
    return EXIT_OK
