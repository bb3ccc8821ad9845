"""Schemathesis fuzzes every operation of the OpenAPI spec (bounded examples): never a 5xx.

Runs once anonymously (writes must be refused with 4xx) and once with the admin token, so fuzzed
bodies get past authentication and into the registry's own validation.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from test_registry_support import LINE, make_harness

pytestmark = pytest.mark.slow
TOKEN_HOLDER: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> schemathesis.BaseSchema:
    harness = make_harness(Path(tmp_path_factory.mktemp("schemathesis")))
    publisher = harness.register("publisher", "Acme")
    harness.register("certifier", "Lab One", "DE")
    with harness.client(key=publisher) as acme:
        acme.declare_release(LINE, 1, "1.0", "11" * 32)
    TOKEN_HOLDER["token"] = harness.token
    return schemathesis.openapi.from_asgi("/openapi.json", harness.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_anonymous(case: schemathesis.Case) -> None:
    response = case.call_and_validate(checks=[not_a_server_error])
    if case.method.upper() == "POST":
        assert response.status_code in (401, 413, 422), response.text  # writes need credentials


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_errors_as_admin(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"authorization": f"Bearer {TOKEN_HOLDER['token']}"}, checks=[not_a_server_error]
    )
