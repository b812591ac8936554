"""Fuzzing the JSON API with schemathesis, from the server's own OpenAPI document.

The server runs as its own process on a loopback port (as in a school); every operation in
``/api/v1/openapi.json`` gets generated requests, once signed in as a teacher and once without
a session. No answer may be a 5xx, and none may hang. Few cases per operation in ``make test``,
many under ``make reliability``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lessoncam_server import accounts
from lessoncam_server.db import open_database
from lessoncam_server.paths import DataPaths

from .. import reliability

PASSWORD = "fuzzing password"
TEACHER = "fuzz-teacher"
PER_OPERATION = reliability.sized(2, 50)
TIMEOUT_S = 15.0  # an answer slower than this counts as a hang


@dataclass
class LiveServer:
    base: str
    log: Path
    process: subprocess.Popen[bytes]


@dataclass
class Tally:
    cases: int = 0
    failures: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    work = tmp_path_factory.mktemp("fuzz")
    paths = DataPaths(work / "data")
    paths.create()
    db = open_database(paths.database)
    accounts.create_user(db, TEACHER, PASSWORD, "teacher", datetime.now(UTC))
    db.close()
    port = _free_port()
    log = work / "server.log"
    server = str(Path(sys.executable).parent / "lessoncam-server")
    command = [server, "serve", "--data-dir", str(paths.root), "--port", str(port)]
    env = {**os.environ, "LESSONCAM_LOG_LEVEL": "warning"}
    with log.open("wb") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/healthz", timeout=1).raise_for_status()
                break
            except requests.RequestException:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"server did not start:\n{log.read_text()}") from None
                time.sleep(0.1)
        yield LiveServer(base, log, process)
    finally:
        process.terminate()
        process.wait(timeout=15)


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
def test_no_generated_request_gets_a_5xx_or_hangs(live_server: LiveServer, who: str) -> None:
    tally = _fuzz(live_server, who)
    reliability.add("fuzz_cases", tally.cases)
    reliability.add("fuzz_5xx", len(tally.failures))
    assert live_server.process.poll() is None, "the server died:\n" + live_server.log.read_text()
    assert tally.cases >= PER_OPERATION
    assert not tally.failures, (
        "\n".join(tally.failures[:20]) + "\n\nserver log:\n" + (live_server.log.read_text()[-5000:])
    )
