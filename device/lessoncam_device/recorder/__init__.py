"""The unit's recorder: cameras and microphone to power-safe MPEG-TS segments.

- :class:`Recorder` records one lesson (PyAV: libx264 + AAC) from simulated or streaming
  sources; :mod:`.picamera2_adapter` does the same on a Raspberry Pi with picamera2's own
  encoder and outputs (imported only there, and only when used).
- :func:`recover_recordings` closes recordings a crash or power cut left open.

See ``docs/recorder.md``.
"""

from .audio_sync import AudioSyncSettings
from .base import (
    AudioStats,
    CameraStats,
    LessonRecorder,
    MicrophoneUnavailable,
    RecorderError,
    RecordingStats,
)
from .encoders import AudioSettings
from .recording import Recorder, RecorderOptions
from .recovery import RecoveredRecording, closed_recording_segments, recover_recordings
from .storage import ClosedMarker, read_record, recording_dir

__all__ = [
    "AudioSettings",
    "AudioStats",
    "AudioSyncSettings",
    "CameraStats",
    "ClosedMarker",
    "LessonRecorder",
    "MicrophoneUnavailable",
    "Recorder",
    "RecorderError",
    "RecorderOptions",
    "RecordingStats",
    "RecoveredRecording",
    "closed_recording_segments",
    "read_record",
    "recording_dir",
    "recover_recordings",
]
