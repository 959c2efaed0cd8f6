"""Schemathesis against the live app: generated requests for every operation, no 5xx, every answer as documented.

A bounded number of cases per operation keeps it to seconds; it runs as a
manager (everything reachable) on every backend configured.
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402

#: generated cases per operation
CASES = 15


def test_every_operation_conforms(office):
    from crm_hookspecs.events import ContactCreated

    for i in range(3):
        office.crm.emit(ContactCreated(contact_id=i + 1))
    document = office.client.get("/api/v1/openapi.json").json
    # a cursor is opaque (only the ones the API made are valid) and an Idempotency-Key
    # reused with another body is refused by design: neither is generated here;
    # test_conventions.py tries forged cursors and reused keys
    for methods in document["paths"].values():
        for operation in methods.values():
            operation["parameters"] = [
                p for p in operation.get("parameters", []) if p["name"] not in ("cursor", "Idempotency-Key")
            ]
    schema = schemathesis.openapi.from_dict(document)
    schema.app = office.app
    headers = office.headers("boss")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=CASES, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True
        )
        def check(case):
            response = case.call(headers=headers)
            # every check but "schema-valid data is accepted": a request can be valid by the schema and
            # still be refused for the state it meets, with a documented status (412 for an If-Match
            # naming another version, 422 for a host that does not resolve or a business rule)
            case.validate_response(response, headers=headers, excluded_checks=[positive_data_acceptance])

        check()
