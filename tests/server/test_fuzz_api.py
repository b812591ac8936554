"""Fuzzing the JSON API with schemathesis, from the server's own OpenAPI document.

The server runs as its own process on a loopback port (as in a school); every operation in
``/api/v1/openapi.json`` gets generated requests, once signed in as a teacher and once without
a session. No answer may be a 5xx, and none may hang. Few cases per operation in ``make test``,
many under ``make reliability``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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


@pytest.mark.slow
@pytest.mark.parametrize("who", ["teacher", "anonymous"])
def test_no_generated_request_gets_a_5xx_or_hangs(live: LiveServer, who: str) -> None:
    tally = _fuzz(live, who)
    reliability.add("fuzz_cases", tally.cases)
    reliability.add("fuzz_5xx", len(tally.failures))
    assert live.process.poll() is None, "the server died:\n" + live.log_tail()
    assert tally.cases >= PER_OPERATION
    assert not tally.failures, (
        "\n".join(tally.failures[:20]) + "\n\nserver log:\n" + live.log_tail()
    )


# The tus headers are not parameters in the OpenAPI document (tus defines them), so they get
# their own generator: any value for each, valid ones often enough to reach the deeper checks.
LATIN1 = st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f")
TUS_PATH = "/api/v1/lesson-uploads/"


def _header(valid: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    # HTTP header values cannot start with white space (requests refuses to send them).
    return (valid | st.text(LATIN1, max_size=40)).map(str.lstrip)


def _metadata(pairs: dict[str, str]) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


tus_headers = st.fixed_dictionaries(
    {"Tus-Resumable": _header(st.just("1.0.0"))},
    optional={
        "Upload-Length": _header(st.integers(-5, 2**70).map(str)),
        "Upload-Offset": _header(st.integers(-5, 2**70).map(str)),
        "Upload-Metadata": _header(
            st.dictionaries(st.text(LATIN1, min_size=1, max_size=8), st.text(max_size=20)).map(
                _metadata
            )
        ),
        "Upload-Checksum": _header(
            st.tuples(
                st.sampled_from(["sha1", "sha256", "md5", "crc"]), st.binary(max_size=40)
            ).map(lambda t: f"{t[0]} {base64.b64encode(t[1]).decode()}")
        ),
        "Content-Type": _header(st.just("application/offset+octet-stream")),
        "X-HTTP-Method-Override": _header(st.sampled_from(["PATCH", "DELETE", "HEAD"])),
        "Upload-Defer-Length": _header(st.just("1")),
    },
)


@pytest.fixture
def own_live(tmp_path: Path) -> Iterator[LiveServer]:
    """A server of its own: after the anonymous run's failed sign-ins the login throttle
    (rightly) refuses more sign-ins from this address for a while."""
    with live_server(tmp_path, {TEACHER: "teacher"}) as running:
        yield running


@pytest.mark.slow
def test_tus_headers_of_any_value_get_no_5xx(own_live: LiveServer) -> None:
    live = own_live
    session = _signed_in(live.base)
    tally = Tally()

    @settings(
        max_examples=reliability.sized(40, 1500),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        method=st.sampled_from(["POST", "create", "HEAD", "PATCH", "DELETE"]),
        headers=tus_headers,
        body=st.binary(max_size=64),
    )
    def send(method: str, headers: dict[str, str], body: bytes) -> None:
        url = f"{live.base}{TUS_PATH}"
        if method != "create":
            # An upload of 100 bytes to aim at (its headers are the fuzzed ones).
            made = session.post(url, headers={"Tus-Resumable": "1.0.0", "Upload-Length": "100"})
            assert made.status_code == 201, made.text
            url = made.headers["Location"]
        verb = "POST" if method == "create" else method
        try:
            answer = session.request(verb, url, headers=headers, data=body, timeout=TIMEOUT_S)
        except requests.Timeout:
            tally.cases += 1
            tally.failures.append(f"{verb} {headers}: no answer in {TIMEOUT_S} s (hang)")
            return
        tally.cases += 1
        if answer.status_code >= 500:
            tally.failures.append(f"{verb} {headers} {body!r}: HTTP {answer.status_code}")

    send()
    reliability.add("fuzz_cases", tally.cases)
    reliability.add("fuzz_5xx", len(tally.failures))
    assert not tally.failures, "\n".join(tally.failures[:20]) + "\n\nlog:\n" + live.log_tail()
