"""The lazy format → module map agrees with what analyzer modules declare; check IDs are well formed."""

from __future__ import annotations

import re

from modelcert.checks.registry import FORMAT_MODULES, MODULES, _specs, all_checks, analyzers


def test_format_map_matches_declared_analyzers() -> None:
    declared = {fmt: name for name in MODULES for spec in _specs(name) for fmt in spec.formats}
    for fmt, module in declared.items():
        assert FORMAT_MODULES.get(fmt) == module, f"add {fmt!r} -> {module} to FORMAT_MODULES"
    assert set(analyzers()) == set(declared)


def test_every_check_has_a_stable_id_title_and_doc() -> None:
    checks = all_checks()
    assert checks, "no checks registered"
    for cid, check in checks.items():
        assert re.fullmatch(r"MC\d{3}", cid), cid
        assert check.title and len(check.doc()) > 40, cid
        assert check.remediation, f"{cid} has no remediation"
