"""TLS with the school's private CA: the unit trusts the CA file from its credentials for every
request (JSON and tus), and refuses a server it cannot verify."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from lessoncam_device.enrolment import Credentials
from lessoncam_device.uploader import ServerClient, Unavailable
from lessoncam_server.services import Services

from ..faultproxy import Proxy
from ..server.helpers import UnitClient
from .upload_helpers import fake_lesson, make_plan, make_rig, sha256_file

RID = "01JD7Q3W9X4M2N8P5R6S7T8V9W"


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def school_ca(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ssl.SSLContext]:
    """A private CA and a server certificate for 127.0.0.1 signed by it."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    d = tmp_path_factory.mktemp("ca")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl(
        "req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=Test School CA",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=d,
    )  # fmt: skip
    _openssl(
        "req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d
    )
    (d / "ext.cnf").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf",
        cwd=d,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(d / "server.pem", d / "server.key")
    return d / "ca.pem", context


@pytest.fixture
async def tls_proxy(
    server: TestServer, school_ca: tuple[Path, ssl.SSLContext]
) -> AsyncIterator[Proxy]:
    async with Proxy(server.port or 0, tls=school_ca[1]) as proxy:
        yield proxy


async def test_uploads_over_tls_with_the_school_ca(
    tls_proxy: Proxy,
    school_ca: tuple[Path, ssl.SSLContext],
    unit: UnitClient,
    tmp_path: Path,
    services: Services,
) -> None:
    rig = await make_rig(
        tmp_path / "state",
        tls_proxy.url("https"),
        unit.unit_id,
        unit.token,
        ca_file=str(school_ca[0]),
    )
    try:
        info = fake_lesson(tmp_path / "rec", RID)["main"][0]
        rig.queue.add_recording(make_plan(RID))
        rig.queue.add_segment(info)
        steps = await rig.drain()
        assert [s.outcome for s in steps] == ["done", "done", "idle"], steps
        assert sha256_file(services.paths.segment(RID, "main", 0)) == info.sha256
    finally:
        await rig.close()


async def test_a_server_the_unit_cannot_verify_is_not_trusted(
    tls_proxy: Proxy, unit: UnitClient
) -> None:
    creds = Credentials(tls_proxy.url("https"), unit.unit_id, unit.token)  # no CA file
    async with ServerClient(creds) as client:
        with pytest.raises(Unavailable, match="certificate"):
            await client.heartbeat({"state": "idle"})


def test_an_unreadable_ca_file_is_named(tmp_path: Path) -> None:
    creds = Credentials("https://x", "u", "t", ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(ValueError, match=r"missing\.pem"):
        ServerClient(creds)
