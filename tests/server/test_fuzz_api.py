"""Fuzzing the JSON API with schemathesis, from the server's own OpenAPI document.

The server runs as its own process on a loopback port (as in a school); every operation in
``/api/v1/openapi.json`` gets generated requests, once signed in as a teacher and once without
a session. No answer may be a 5xx, and none may hang. Few cases per operation in ``make test``,
many under ``make reliability``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .. import reliability
from .live import PASSWORD, LiveServer, live_server

TEACHER = "fuzz-teacher"
PER_OPERATION = reliability.sized(2, 50)
TIMEOUT_S = 15.0  # an answer slower than this counts as a hang


@dataclass
class Tally:
    cases: int = 0
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("fuzz"), {TEACHER: "teacher"}) as running:
        yield running


def _signed_in(base: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{base}/api/v1/session", json={"username": TEACHER, "password": PASSWORD}, timeout=10
    )
    answer.raise_for_status()
    session.headers["X-CSRF-Token"] = answer.json()["csrf_token"]
    return session


def _both(operation: schemathesis.APIOperation) -> st.SearchStrategy[schemathesis.Case]:
    """Valid requests (reach the handlers) and invalid ones (reach the validation)."""
    return st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )


def _fuzz_operation(
    operation: schemathesis.APIOperation, base: str, session: requests.Session, tally: Tally
) -> None:
    @settings(
        max_examples=PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_both(operation))
    def send(case: schemathesis.Case) -> None:
        try:
            response = case.call(base_url=base, session=session, timeout=TIMEOUT_S)
        except (requests.exceptions.InvalidHeader, requests.exceptions.InvalidURL):
            return  # not sendable over HTTP at all: requests refuses before the server
        except UnicodeEncodeError:
            return  # same: a header value outside latin-1
        except requests.Timeout:
            tally.cases += 1
            tally.failures.append(f"{operation.label}: no answer in {TIMEOUT_S} s (hang)")
            return
        tally.cases += 1
        if response.status_code >= 500:
            tally.failures.append(
                f"{operation.label}: HTTP {response.status_code} for {case.as_curl_command()}"
            )

    send()


def _fuzz(live: LiveServer, who: str) -> Tally:
    schema = schemathesis.openapi.from_url(f"{live.base}/api/v1/openapi.json")
    tally = Tally()
    session = _signed_in(live.base) if who == "teacher" else requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        if who == "teacher" and operation.path == "/api/v1/session":
            continue  # signing out or in again would end the teacher's run; anonymous covers it
        if who == "teacher" and session.get(f"{live.base}/api/v1/session").status_code != 200:
            session = _signed_in(live.base)  # some operation ended the session (password?)

        _fuzz_operation(operation, live.base, session, tally)
    return tally


@pytest.mark.parametrize("who", ["teacher", "anonymous"])
def test_no_generated_request_gets_a_5xx_or_hangs(live: LiveServer, who: str) -> None:
    tally = _fuzz(live, who)
    reliability.add("fuzz_cases", tally.cases)
    reliability.add("fuzz_5xx", len(tally.failures))
    assert live.process.poll() is None, "the server died:\n" + live.log_tail()
    assert tally.cases >= PER_OPERATION
    assert not tally.failures, (
        "\n".join(tally.failures[:20]) + "\n\nserver log:\n" + (live_server.log.read_text()[-5000:])
    )
