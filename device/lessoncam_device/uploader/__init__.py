"""The unit's upload side: the SQLite queue, the upload loop and the heartbeat.

The recorder hands segments to ``UploadQueue`` (``add_recording``, ``add_segment``,
``close_recording``); ``Uploader.run()`` sends them to the server with tus while the lesson
goes on; ``Heartbeat.run()`` reports the unit's health. See ``docs/uploads.md``.
"""

from .client import REVOKED_MESSAGE, Refused, ServerClient, Unauthorized, Unavailable, UploadError
from .heartbeat import Heartbeat, cpu_temperature
from .policy import Backoff, KeepPolicy, TimeWindow, TokenBucket, UploadWindows, is_due
from .queue import DB_FILE, QueuedRecording, QueuedSegment, UploadQueue
from .uploader import Step, Uploader, UploadSettings

__all__ = [
    "DB_FILE",
    "REVOKED_MESSAGE",
    "Backoff",
    "Heartbeat",
    "KeepPolicy",
    "QueuedRecording",
    "QueuedSegment",
    "Refused",
    "ServerClient",
    "Step",
    "TimeWindow",
    "TokenBucket",
    "Unauthorized",
    "Unavailable",
    "UploadError",
    "UploadQueue",
    "UploadSettings",
    "UploadWindows",
    "Uploader",
    "cpu_temperature",
    "is_due",
]
