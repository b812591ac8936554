"""The tus 1.0.0 protocol's constants and header parsing (pure; no HTTP server here)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime

TUS_VERSION = "1.0.0"
TUS_EXTENSIONS = "creation,creation-with-upload,termination,checksum,expiration"
CHECKSUM_ALGORITHMS = ("sha1", "sha256", "md5")
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
RESULT_HEADER = "Lessoncam-Upload-Result"
DEFAULT_PREFIX = "/api/v1/uploads"

_DIGITS_RE = re.compile(r"\A[0-9]{1,19}\Z")
# A metadata key: printable ASCII without space or comma.
_META_KEY_RE = re.compile(r"\A[!-+\--~]+\Z")


class TusFailure(Exception):
    """An error answer: status, message and extra headers."""

    def __init__(
        self,
        status: int,
        message: str,
        headers: Mapping[str, str] | None = None,
        *,
        close: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        self.close = close


# --- header parsing ---------------------------------------------------------------------------


def parse_uint(value: str | None, name: str) -> int:
    if value is None:
        raise TusFailure(400, f"{name} header is required")
    value = value.strip()
    if not _DIGITS_RE.match(value):
        raise TusFailure(400, f"{name} must be a non-negative integer, not {value[:40]!r}")
    return int(value)


def parse_metadata(header: str) -> dict[str, str]:
    """Decode an ``Upload-Metadata`` header; values must be base64 of UTF-8 text.

    Raises ValueError with a readable reason.
    """
    metadata: dict[str, str] = {}
    for pair in header.split(","):
        parts = pair.split()
        if not parts:
            continue
        if len(parts) > 2:
            raise ValueError(f"pair {pair.strip()[:40]!r} has more than a key and a value")
        key = parts[0]
        if not _META_KEY_RE.match(key):
            raise ValueError(f"key {key[:40]!r} must be printable ASCII without spaces or commas")
        if key in metadata:
            raise ValueError(f"key {key!r} appears twice")
        try:
            raw = base64.b64decode(parts[1], validate=True) if len(parts) == 2 else b""
            metadata[key] = raw.decode("utf-8")
        except (binascii.Error, ValueError):
            raise ValueError(f"value of {key!r} is not base64 of UTF-8 text") from None
    return metadata


def encode_metadata(metadata: Mapping[str, str]) -> str:
    """Encode metadata as an ``Upload-Metadata`` header value."""
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" if value else key
        for key, value in metadata.items()
    )


def parse_checksum(header: str | None) -> tuple[str, bytes] | None:
    if header is None:
        return None
    parts = header.split()
    if len(parts) != 2:
        raise TusFailure(400, "Upload-Checksum must be '<algorithm> <base64 digest>'")
    algorithm = parts[0].lower()
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise TusFailure(
            400,
            f"checksum algorithm {parts[0][:20]!r} is not supported; "
            f"use one of {','.join(CHECKSUM_ALGORITHMS)}",
        )
    try:
        expected = base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        raise TusFailure(400, "Upload-Checksum digest is not valid base64") from None
    if len(expected) != new_digest(algorithm).digest_size:
        raise TusFailure(400, f"Upload-Checksum digest has the wrong length for {algorithm}")
    return algorithm, expected


def new_digest(algorithm: str) -> hashlib._Hash:
    # Integrity checks against transport errors, not security: md5/sha1 are fine here.
    return hashlib.new(algorithm, usedforsecurity=False)


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)
