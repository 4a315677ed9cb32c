"""Every documented operation, fed generated requests over HTTP, answers as documented.

Schemathesis reads /api/v1/openapi.json from the app served on loopback and, for each
operation, sends a few requests built from the document (valid ones, then invalid ones)
with an organiser's real token. Each answer must not be a 5xx, its status must be one the
document lists for the operation, and its content type, headers and body must match what
the document says of that status.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import Phase
from hypothesis import given
from hypothesis import settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance
from schemathesis.specs.openapi.checks import response_headers_conformance
from schemathesis.specs.openapi.checks import response_schema_conformance
from schemathesis.specs.openapi.checks import status_code_conformance

from tests.factories import invitee
from tests.factories import make_event
from tests.factories import make_institution
from tests.factories import make_person
from tests.factories import make_session

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# A few requests per operation and mode keep the run well under a minute; the examples
# are derived from the operation, so every run sends the same requests. FORUM_FUZZ_EXAMPLES
# asks for a deeper run with random examples: FORUM_FUZZ_EXAMPLES=50 takes a few minutes.
DEEPER = os.environ.get("FORUM_FUZZ_EXAMPLES")
FUZZ = settings(
    max_examples=int(DEEPER or 4),
    deadline=None,
    database=None,
    derandomize=not DEEPER,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)


def _seed(api) -> None:
    """Rows with the small ids generated paths name, so not every answer is a 404."""
    pku = make_institution(api, "Peking University", "CN", "Asia/Shanghai")
    utokyo = make_institution(api, "University of Tokyo", "JP", "Asia/Tokyo")
    li = make_person(api, "Li Wei", "li@pku.example", pku["id"])
    sato = make_person(api, "Sato Aiko", "sato@utokyo.example", utokyo["id"])
    event = make_event(api, title="PKU-UTokyo rectors", kind="bilateral")
    make_session(
        api,
        event["id"],
        invitees=[invitee(li, "chair"), invitee(sato, "speaker")],
    )
    make_session(
        api,
        event["id"],
        title="Monthly call",
        start="2027-04-07T07:00:00Z",
        rrule="FREQ=MONTHLY;COUNT=6",
        invitees=[invitee(li), invitee(sato)],
    )


@pytest.mark.slow
def test_every_operation_answers_only_documented_statuses_and_never_5xx(live_server, api):
    _seed(api)
    schema = schemathesis.openapi.from_url(f"{live_server}/api/v1/openapi.json")
    auth = {"Authorization": f"Bearer {api.token}"}
    failures: list[str] = []
    operations = 0
    calls = 0
    started = time.perf_counter()
    with requests.Session() as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

                @FUZZ
                @given(case=operation.as_strategy(generation_mode=mode))
                def answers_as_documented(case: Any) -> None:
                    nonlocal calls
                    calls += 1
                    response = case.call(base_url=live_server, session=http, headers=auth)
                    case.validate_response(response, checks=CHECKS, headers=auth)

                try:
                    answers_as_documented()
                except Unsatisfiable:
                    # Nothing of the operation can be made invalid (no parameters, no body).
                    assert mode is GenerationMode.NEGATIVE, operation.label
                except (Exception, BaseExceptionGroup) as error:  # list them all, not the first
                    failures.append(f"{operation.label} [{mode.value}]: {error}")
    print(
        f"\n{calls} generated requests to {operations} operations "
        f"in {time.perf_counter() - started:.1f} s"
    )
    assert operations >= 50
    assert not failures, "\n\n".join(failures)
