"""What a lesson records from: one interface for every kind of source.

Pi cameras (picamera2), webcams with an ALSA microphone, and the simulated classroom each
implement :class:`Sources`: given a lesson's plan they return its recorder and the frames the
tracker watches (:class:`Capture`). The daemon drives any of them the same way and never asks
which kind it has; the config picks the kind (``hardware.sources_for``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal, Protocol

from .clock import Clock
from .config import DeviceConfig
from .recorder import AudioSyncSettings, LessonRecorder, Recorder, RecorderOptions
from .recorder.inputs import Camera, Microphone
from .segments import RecordingPlan, SegmentInfo
from .tracking.frames import TrackingFrames


class HardwareUnavailable(Exception):
    """The configured camera or microphone cannot be used here; the message says why."""


@dataclass(frozen=True)
class Capture:
    """One lesson's recorder, and the main camera's frames for the tracker (None: it gives
    the tracker none)."""

    recorder: LessonRecorder
    frames: TrackingFrames | None


class Sources(Protocol):
    """One kind of cameras and microphone, as the config chose them for a lesson."""

    def capture(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None],
        options: RecorderOptions | None = None,
    ) -> Capture:
        """The recorder for ``plan`` (not started yet) and what the tracker watches.

        ``options`` override how the PyAV recorder encodes (None: what suits these
        sources); Pi cameras encode with picamera2 and take none of them.
        """
        ...


class RecorderSources(ABC):
    """Cameras and a microphone that the PyAV ``Recorder`` records (webcams and ALSA, the
    simulated classroom): a subclass says how they are read and what the tracker watches."""

    mode: ClassVar[Literal["stream", "pull"]]  # real time, or pulled up to the clock's now
    cameras: Sequence[Camera]  # in the plan's order
    microphone: Microphone | None
    offset_ms: float  # calibrated A/V offset, added to the microphone's timestamps
    sound_required: bool = False  # a microphone that cannot be opened refuses the lesson
    x264_preset: str = "veryfast"  # libx264's speed preset for these cameras

    def capture(
        self,
        plan: RecordingPlan,
        state_dir: Path,
        clock: Clock,
        on_segment: Callable[[SegmentInfo], None],
        options: RecorderOptions | None = None,
    ) -> Capture:
        """A ``Recorder`` of these sources, and the frames the tracker watches."""
        options = options or RecorderOptions(
            mode=self.mode,
            audio_sync=AudioSyncSettings(offset_s=self.offset_ms / 1000.0),
            x264_preset=self.x264_preset,
        )
        recorder = Recorder(
            plan,
            state_dir,
            self.cameras,
            self.microphone,
            clock,
            options,
            on_segment,
            sound_required=self.sound_required,
        )
        return Capture(recorder, self.tracking_frames(recorder, clock))

    @abstractmethod
    def tracking_frames(self, recorder: Recorder, clock: Clock) -> TrackingFrames | None:
        """What the tracker watches while ``recorder`` records."""


SourcesFactory = Callable[[DeviceConfig, RecordingPlan, Clock], Sources]
"""Makes a lesson's sources from the config (the daemon calls it at every start)."""
