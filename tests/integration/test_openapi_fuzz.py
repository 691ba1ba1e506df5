"""schemathesis against a real `signin serve`, on SQLite and on PostgreSQL (SPEC 8 and 16).

Generated requests, valid and invalid for the schema, for every operation in
`/api/openapi.json`: no answer may be a 5xx, and each must match the document (status, media
type, body schema, headers). Bounded: a fixed number of examples per operation and mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import checks

from tests.backends import fresh_database, need_postgres
from tests.support import ServerProcess, server

EXAMPLES = 25
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
    checks.response_headers_conformance,
    checks.negative_data_rejection,
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def live(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    env = {"SIGNIN_DATA_DIR": str(tmp_path / "data"), "SIGNIN_SIGNUP_LIMIT_PER_IP": "100000"}
    if request.param == "sqlite":
        with server(env) as process:
            yield process
        return
    with fresh_database(need_postgres()) as url, server({**env, "SIGNIN_DATABASE_URL": url}) as p:
        yield p


def fuzz(
    operation: Any, mode: schemathesis.GenerationMode, failures: dict[tuple[str, str], str]
) -> Callable[[], None]:
    """A hypothesis test of one operation in one mode; failures are collected, not raised."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    def run(case: schemathesis.Case) -> None:
        try:
            case.call_and_validate(checks=CHECKS)
        except Exception as exc:  # collected: one report for every kind of failure
            for failure in getattr(exc, "exceptions", [exc]):
                first = str(failure).splitlines()[0]
                failures.setdefault((operation.label, first), str(failure)[:600])

    return run


@pytest.mark.slow
def test_every_answer_matches_the_document_and_none_is_a_5xx(live: ServerProcess) -> None:
    schema = schemathesis.openapi.from_url(f"{live.url}/api/openapi.json")
    # A body over 64 KiB (a long generated password, say) is refused with 413 before it is read
    # (SPEC 16, documented for every body): a rejection of invalid data as much as a 422 is.
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]
    failures: dict[tuple[str, str], str] = {}
    tried = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE):
            try:
                fuzz(operation, mode, failures)()
                tried += 1
            except Unsatisfiable:
                continue  # no schema-invalid request exists (an operation without input)
    assert tried >= 8
    assert not failures, "\n\n".join(f"{label}: {text}" for (label, _), text in failures.items())
