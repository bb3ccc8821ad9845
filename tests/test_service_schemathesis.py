"""Schemathesis fuzzes every operation of the OpenAPI spec (bounded examples): never a 5xx.

Each operation runs anonymously (writes must be refused with a 4xx) and with the admin token, so fuzzed
bodies get past authentication and into the registry's own validation. Operations are driven through
hypothesis directly (one strategy per operation), which keeps the run bounded and independent of the
schemathesis pytest plugin.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from test_registry_support import LINE, make_harness

pytestmark = pytest.mark.slow
EXAMPLES = 12


def test_no_operation_answers_5xx(tmp_path: Path) -> None:
    harness = make_harness(tmp_path, rate_limit_per_minute=10**6, rate_limit_burst=10**6)
    publisher = harness.register("publisher", "Acme")
    harness.register("certifier", "Lab One", "DE")
    with harness.client(key=publisher) as acme:
        acme.declare_release(LINE, 1, "1.0", "11" * 32)
    schema = schemathesis.openapi.from_asgi("/openapi.json", harness.app)
    admin = {"authorization": f"Bearer {harness.token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 15
    seen: dict[str, set[int]] = {}
    started = time.monotonic()

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def fuzz(case: schemathesis.Case) -> None:
            anonymous = case.call_and_validate(checks=[not_a_server_error])
            if case.method.upper() == "POST":
                assert anonymous.status_code in (401, 413, 422), anonymous.text
            as_admin = case.call_and_validate(headers=admin, checks=[not_a_server_error])
            seen.setdefault(f"{case.method} {case.path}", set()).update(
                {anonymous.status_code, as_admin.status_code}
            )

        fuzz()
    assert len(seen) == len(operations)
    assert all(code < 500 for codes in seen.values() for code in codes)
    assert any(200 <= code < 300 for code in seen["POST /v1/admin/keys"] | seen["GET /v1/info"])
    assert time.monotonic() - started < 60
