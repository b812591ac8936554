"""Keep secrets that travel in URLs out of the access log.

An OpenID Provider sends the authorization ``code`` (and ``state``) back in the callback's
query string, and the access log writes each request line. This filter blanks those values
on the access loggers, however the server was started (the CLI, a test server).
"""

from __future__ import annotations

import logging
import re

# aiohttp's own access logger, used when a runner is given no other.
AIOHTTP_ACCESS_LOG = "aiohttp.access"
_SECRET_PARAMETER = re.compile(
    r"([?&](?:code|state|session_state|id_token|id_token_hint|access_token|refresh_token|"
    r"client_secret|code_verifier)=)[^&\s\"]*",
    re.IGNORECASE,
)


def redact(text: str) -> str:
    """``text`` with the values of secret-bearing query parameters replaced by ``***``."""
    return _SECRET_PARAMETER.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Rewrites each record's message with :func:`redact` (the record is kept)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install(*names: str) -> None:
    """Add the filter to the access loggers ``names`` and aiohttp's own, once each."""
    for name in (*names, AIOHTTP_ACCESS_LOG):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
