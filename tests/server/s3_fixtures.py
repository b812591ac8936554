"""An S3-compatible server process for the bucket tests (moto's server mode, from PyPI), and
what the tests need around it: a fresh bucket per test, a credentials file, an observer client
that talks to the bucket directly (not through the fault proxy the server uses)."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3

ACCESS_KEY = "lessoncam-test"
SECRET_KEY = "lessoncam-test-secret"
START_TIMEOUT_S = 30


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def s3_server() -> Iterator[int]:
    """Run ``moto_server`` on a free loopback port for the block; yields the port."""
    port = _free_port()
    binary = str(Path(sys.executable).parent / "moto_server")
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=1):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the S3 test server did not start") from None
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def observer(port: int) -> Any:
    """A plain boto3 client on the S3 server itself (to look at what the bucket holds)."""
    return boto3.client(
        "s3",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def new_bucket(port: int) -> str:
    name = f"lessons-{uuid.uuid4().hex[:12]}"
    observer(port).create_bucket(Bucket=name)
    return name


def credentials_file(folder: Path) -> Path:
    """The keys in the TOML file the server reads, private to its account."""
    path = folder / "s3-credentials.toml"
    path.write_text(f'access_key_id = "{ACCESS_KEY}"\nsecret_access_key = "{SECRET_KEY}"\n')
    os.chmod(path, 0o600)
    return path


def s3_settings(endpoint: str, bucket: str, creds: Path, **extra: Any) -> dict[str, Any]:
    """``[storage.s3]`` for a test: small parts, short timeouts and waits."""
    return {
        "endpoint": endpoint,
        "bucket": bucket,
        "path_style": True,
        "credentials_file": str(creds),
        "part_size_mib": 5,
        "timeout_s": 3.0,
        "retry_max_s": 1.0,
        **extra,
    }


def objects(port: int, bucket: str, prefix: str = "") -> dict[str, int]:
    """Every object in the bucket under ``prefix``: key -> size."""
    client = observer(port)
    found: dict[str, int] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            found[item["Key"]] = item["Size"]
    return found


def object_sha256(port: int, bucket: str, key: str) -> str:
    body = observer(port).get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def open_uploads(port: int, bucket: str) -> list[Any]:
    """Multipart uploads begun and neither completed nor aborted."""
    return list(observer(port).list_multipart_uploads(Bucket=bucket).get("Uploads", []))
