"""schemathesis against /api/schema/ on a real daphne, with a Bearer token of every scope.

Every operation of docs/openapi.json, with generated valid and invalid inputs: no 500, every
status documented, bodies and headers valid, invalid input refused with a 4xx, undocumented
methods a 405 with Allow. Bounded: a few examples per operation and a time budget, so the
suite stays fast; the number of cases is printed (`-s` shows it).
"""

from __future__ import annotations

import time
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.campaigns.factories import make_agreement
from tests.factories import make_user
from tokens.services import token_create

MAX_EXAMPLES = 8  # per operation and mode
BUDGET = 40.0  # seconds for the whole run; past it the remaining cases are skipped
# Whether these inputs are acceptable depends on what the schema cannot name (the agreement's
# slug or id, the filter paths and their values in a body or a count's query, a token
# lifetime like `30d`, a job list's `before` cursor, which must name one of the caller's own
# jobs): schema-valid input may rightly be a 400, so "valid data is accepted" is not checked
# for them; everything else is (no 500, statuses documented, bodies valid, invalid data
# refused).
DATA_DEPENDENT = {"exports_start", "exports_count", "campaigns_start", "tokens_create",
                  "jobs_list", "campaigns_preview", "campaigns_test"}


@pytest.fixture
def server(server_inmemory, transactional_db):
    return server_inmemory


@pytest.fixture
def token(server):
    user = make_user(staff=True)
    make_agreement(slug="fuzzed-terms")
    return token_create(user=user, name="schemathesis")[1]


def test_the_live_api_conforms_to_its_schema(server, token):
    """Every operation of the schema daphne serves, positive then negative cases."""
    schema = schemathesis.openapi.from_url(f"{server.url}/api/schema/")
    headers = {"Authorization": f"Bearer {token}"}
    started, cases, failures = time.monotonic(), Counter(), []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 20, [f"{o.method} {o.path}" for o in operations]
    for operation in operations:
        excluded = ([positive_data_acceptance]
                    if operation.definition.raw.get("operationId") in DATA_DEPENDENT else None)

        def call(case, excluded=excluded):
            case.call_and_validate(base_url=server.url, headers=headers,
                                   excluded_checks=excluded)

        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            label = f"{operation.method.upper()} {operation.path} {mode.value}"
            run = _runner(operation.as_strategy(generation_mode=mode), label, cases, started,
                          call)
            try:
                run()
            except (Exception, BaseExceptionGroup) as exc:  # collect all, report together
                if "Unable to satisfy assumptions" in str(exc):  # nothing to make invalid
                    assert mode is GenerationMode.NEGATIVE, label
                    continue
                failures.append(f"{label}: {type(exc).__name__}: {exc}")
    total = sum(cases.values())
    print(f"\nschemathesis: {total} cases over {len(operations)} operations in "
          f"{time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)
    assert total >= len(operations) * 2, cases


def _runner(strategy, label: str, cases: Counter, started: float, call):
    @given(case=strategy)
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        if time.monotonic() - started > BUDGET:
            return
        cases[label] += 1
        call(case)

    return run
