"""Property-based fuzzing of the JSON API from its own OpenAPI document (schemathesis).

Every operation of /api/v1/openapi.json gets generated requests, valid and invalid, sent
in-process (WSGI) to a test app seeded with the demo data, anonymously and with the bearer
token of a user of several roles. Whatever is sent, the answer is never a 5xx, and every
error is RFC 9457 problem JSON (with `errors` for 422).

Every check schemathesis has runs on every answer (`ALL_CHECKS`: status codes, content types,
headers and bodies against the document, negative data rejected, positive data accepted, ...).
One judgement is stated here rather than hidden: a schema-valid request may be answered 422
when it breaks a rule the document cannot state as JSON Schema (criteria weights summing to 100,
an innovator registering an organisation, an id in the body naming a user that exists, KPI names
after trimming). Those answers are documented (every write declares 422 with the Problem schema);
`positive_data_acceptance` therefore also expects 422 from writes (a schema-valid read must never
get one), and nothing else is relaxed.

Two of the checks act only on coverage-phase cases (a missing required header, an undeclared
method): each operation also gets schemathesis's coverage phase, at most FUZZ_COVERAGE cases of it.
Three act only across calls (use after free, resource availability, object-level authorisation):
`test_api_workflows_keep_their_word` runs the stateful phase (FUZZ_STATEFUL scenarios) for them.

Bounded and derandomized, so a run is reproducible and quick; FUZZ_EXAMPLES (default 8) and
FUZZ_COVERAGE (default 20) raise the number of examples per operation for a longer local run
(measured on 2 shared cores: 14-15 s per caller on SQLite, 17-27 s on PostgreSQL, about twice that
when the machine is busy; the stateful test adds 2-3 s per caller).
"""
from __future__ import annotations

import itertools
import os
import re
import traceback

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.core.failures import FailureGroup
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import NO_FEEDBACK
from schemathesis.generation.overrides import Override

from facility.extensions import db

MAX_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
COVERAGE_CASES = int(os.environ.get("FUZZ_COVERAGE", "20"))
load_all_checks()
ALL_CHECKS = list(CHECKS.get_all())
# Rules between fields and against stored data answer 422 to schema-valid input (see above).
POSITIVE_ALSO_422 = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]

# Who calls: nobody, then one demo user of each kind (see facility/accounts/demo.py).
CALLERS = {
    "anonymous": None,
    "innovator": "founder@solarkiosk.demo",
    "city_official": "official@kampala.demo",
    "fund_manager": "fund.manager@demo.facility",
    "reviewer": "reviewer1@demo.facility",
    "donor": "donor@foundation.demo",
    "admin": "admin@demo.facility",
}
# The rest run with -m slow (the roles above with the fewest endpoints of their own).
FAST_CALLERS = ("anonymous", "innovator", "city_official", "fund_manager")


# A failed sign-in is refused (401) and still recorded, on purpose.
WRITES_WHEN_REFUSED = {"POST /api/v1/auth/tokens"}


def _audit_count() -> int:
    from facility.audit.models import AuditEvent

    db.session.rollback()
    return db.session.execute(sa.select(sa.func.count(AuditEvent.id))).scalar()


@pytest.fixture
def demo_world(app):
    from facility import demo

    demo.seed(echo=lambda _msg: None)
    app.config["RATELIMIT_ENABLED"] = False
    yield app
    app.config["RATELIMIT_ENABLED"] = True


def _token_headers(email: str | None) -> dict:
    from facility.accounts.models import User
    from facility.accounts.services import issue_api_token

    # Uncompressed answers: schemathesis's WSGI transport reads bodies as sent and does not undo brotli or
    # gzip (compression itself is tested in tests/reach/test_slow_lines.py).
    plain_body = {"Accept-Encoding": "identity"}
    if email is None:
        return plain_body
    user = db.session.execute(db.select(User).where(User.email == email)).scalar_one()
    _, plain = issue_api_token(user=user)
    db.session.commit()
    return {**plain_body, "Authorization": f"Bearer {plain}"}


def public_operations(app) -> set[tuple[str, str]]:
    """(METHOD, /openapi/{path}) of the endpoints marked @public; every other one needs a token."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and getattr(app.view_functions[rule.endpoint], "public", False):
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            found.update((method, path) for method in rule.methods)
    return found


def check_answer(case, response, *, needs_token: bool = False) -> str | None:
    """What is wrong with the answer, or None."""
    status = response.status_code
    if status >= 500:
        return f"server error {status}"
    # 404/405: the generated path or method matches no route; OPTIONS (which methods exist) needs no token.
    if needs_token and status not in (401, 404, 405) and case.method.upper() != "OPTIONS":
        return f"{status} to an anonymous caller of an endpoint that needs a token (401 comes first)"
    if status < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0] != "application/problem+json":
        return f"{status} is not problem JSON: {content_type}"
    body = response.json()
    if body.get("status") != status or not body.get("title") or not body.get("detail"):
        return f"{status} problem JSON lacks status/title/detail: {body}"
    if status == 422 and not body.get("errors") and "errors" in body:
        return f"422 with an empty errors member: {body}"
    return None


def _answer_problem(case, response, headers: dict, client, *, needs_token: bool) -> str | None:
    """Our own rules first (problem JSON, 401 first), then every schemathesis check."""
    problem = check_answer(case, response, needs_token=needs_token)
    if problem is not None:
        return problem
    if response.status_code == 422 and case.method.upper() == "GET" and case.meta is not None \
            and case.meta.generation.mode.is_positive:
        return f"422 to a schema-valid read (only writes have rules beyond the document): {response.text[:300]}"
    try:
        case.validate_response(response, checks=ALL_CHECKS, headers=headers,
                               transport_kwargs={"session": client, "headers": headers})
    except FailureGroup as exc:  # one or more checks failed
        titles = sorted({f"{type(failure).__name__} ({failure.title})" for failure in exc.exceptions})
        return f"{response.status_code} fails {', '.join(titles)}: {response.text[:300]}"
    return None


def _send(case, client, headers: dict, failures: list, *, needs_token: bool) -> None:
    label = case.operation.label
    before = _audit_count()
    try:
        response = case.call(session=client, headers=headers)
    except Exception as exc:  # the app raised (TESTING propagates): that is a 500
        where = traceback.extract_tb(exc.__traceback__)[-1]
        failures.append(f"{label}: {exc.__class__.__name__}: {exc} ({where.filename}:{where.lineno})"
                        f"\n  {case.as_curl_command()}")
        db.session.rollback()
        return
    problem = _answer_problem(case, response, headers, client, needs_token=needs_token)
    if problem is None and response.status_code >= 400 and _audit_count() != before \
            and label not in WRITES_WHEN_REFUSED:
        problem = f"refused with {response.status_code} but wrote to the audit trail"
    if problem:
        failures.append(f"{label}: {problem}\n  {case.as_curl_command()}")


def coverage_cases(schema, operation) -> list:
    """Schemathesis's coverage phase for one operation (boundaries, wrong types, missing parameters,
    undeclared methods, wrong media types), at most COVERAGE_CASES of them, every kind of scenario
    represented: taken round-robin by scenario, in the generator's (deterministic) order."""
    generator = CoverageGenerator(
        operation=operation, generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        auth_storage=None, override=Override(), feedback=NO_FEEDBACK)
    by_scenario: dict[str, list] = {}
    for case in generator:
        by_scenario.setdefault(str(getattr(case.meta.phase.data, "scenario", "")), []).append(case)
    rounds = itertools.zip_longest(*by_scenario.values())
    picked = [case for round_ in rounds for case in round_ if case is not None]
    return picked[:COVERAGE_CASES]


def _fuzz_operation(app, schema, operation, headers: dict, failures: list, *, needs_token: bool) -> None:
    client = app.test_client()
    for case in coverage_cases(schema, operation):
        _send(case, client, headers, failures, needs_token=needs_token)
    strategy = st.one_of(operation.as_strategy(generation_mode=mode)
                         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE))

    @settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def run(case):
        _send(case, client, headers, failures, needs_token=needs_token)

    run()


@pytest.mark.parametrize("caller", [c if c in FAST_CALLERS else pytest.param(c, marks=pytest.mark.slow)
                                    for c in CALLERS])
def test_api_answers_garbage_with_problem_json(demo_world, caller):
    app = demo_world
    headers = _token_headers(CALLERS[caller])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.checks.positive_data_acceptance.expected_statuses = POSITIVE_ALSO_422
    public = public_operations(app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        needs_token = not headers and (operation.method.upper(), operation.path) not in public
        _fuzz_operation(app, schema, operation, headers, failures, needs_token=needs_token)
    unique = list(dict.fromkeys(failures))
    assert not unique, f"{len(unique)} bad answers:\n" + "\n".join(unique[:40])


STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL", "10"))


@pytest.mark.parametrize("caller", [c if c in FAST_CALLERS else pytest.param(c, marks=pytest.mark.slow)
                                    for c in CALLERS])
def test_api_workflows_keep_their_word(demo_world, caller):
    """Schemathesis's stateful phase: chains of calls following the links it infers from the document
    (create, then read, change, delete what was created), with every check, the stateful ones too
    (a deleted object stays gone, a created one can be read, another caller cannot reach it)."""
    app = demo_world
    headers = _token_headers(CALLERS[caller])
    client = app.test_client()
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    schema.config.checks.positive_data_acceptance.expected_statuses = POSITIVE_ALSO_422
    public = public_operations(app)
    failures: list[str] = []
    calls: list[str] = []

    class Workflow(schema.as_state_machine()):
        def get_call_kwargs(self, case):
            calls.append(case.operation.label)
            return {"session": client, "headers": headers}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            needs_token = not headers and (case.operation.method.upper(), case.operation.path) not in public
            problem = check_answer(case, response, needs_token=needs_token)
            if problem is None:
                try:
                    case.validate_response(response, checks=ALL_CHECKS, headers=headers,
                                           transport_kwargs=kwargs, recorder=self.recorder)
                except FailureGroup as exc:
                    titles = sorted({f"{type(failure).__name__} ({failure.title})" for failure in exc.exceptions})
                    problem = f"{response.status_code} fails {', '.join(titles)}: {response.text[:300]}"
            if problem:
                failures.append(f"{case.operation.label}: {problem}\n  {case.as_curl_command()}")

    Workflow.run(settings=settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=5, derandomize=True,
                                   database=None, deadline=None, print_blob=False,
                                   suppress_health_check=list(HealthCheck)))
    assert len(set(calls)) > 5, calls  # the workflows ran
    unique = list(dict.fromkeys(failures))
    assert not unique, f"{len(unique)} bad answers:\n" + "\n".join(unique[:40])
