"""One camera's encoder thread: frames (and, for the main camera, sound) to segment files.

Everything heavy (pixel conversion, libx264, AAC, muxing) runs here, off the event loop.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from .audio_sync import AudioTimeline
from .encoders import PTS_BASE_S, AudioEncoder, EncoderBank, VideoEncoder
from .inputs import AudioItem, Feed, FrameItem
from .segmenter import Segmenter

log = logging.getLogger(__name__)


@dataclass
class PipelineCounters:
    """Updated by the pipeline thread; read by anyone."""

    frames: int = 0
    dropped: int = 0  # frames the camera skipped (pts gaps) or the queue could not hold
    out_of_order: int = 0  # frames whose pts did not increase: left out
    first_t: float | None = None
    last_t: float | None = None
    audio_chunks: int = 0
    audio_blocks: int = 0


class CameraPipeline:
    """A thread: iterate the feed, encode, hand packets to the segmenter."""

    def __init__(
        self,
        camera: str,
        feed: Feed,
        bank: EncoderBank,
        video: VideoEncoder,
        segmenter: Segmenter,
        t0: float,
        fps: float,
        *,
        audio: AudioEncoder | None = None,
        timeline: AudioTimeline | None = None,
        wall_minus_mono_s: float = 0.0,
    ) -> None:
        self.camera = camera
        self.feed = feed
        self.bank = bank
        self.video = video
        self.segmenter = segmenter
        self.t0 = t0
        self.frame_s = 1.0 / fps
        self.audio = audio
        self.timeline = timeline
        self.wall_minus_mono_s = wall_minus_mono_s
        self.counters = PipelineCounters()
        self.latest: FrameItem | None = None  # for the heartbeat's snapshot
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"recorder-{camera}", daemon=True)

    def start(self) -> None:
        """Start the thread; it ends when the feed does."""
        self._thread.start()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; False if it is still running after ``timeout``."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            for item in self.feed:
                if isinstance(item, FrameItem):
                    self._frame(item)
                else:
                    self._sound(item)
            self.segmenter.add_video(self.video.flush())
            if self.audio is not None:
                self.segmenter.add_audio(self.audio.flush())
            self.segmenter.finish()
        except BaseException as e:  # reported by the recorder; the thread must not vanish
            log.exception("camera %s: recording failed", self.camera)
            self.error = e
            self.segmenter.abandon()
        finally:
            self.bank.close()

    def _frame(self, item: FrameItem) -> None:
        c = self.counters
        t = item.pts_s - self.t0
        if c.last_t is not None:
            gap = t - c.last_t
            if gap <= 0:
                c.out_of_order += 1
                return
            if gap > 1.5 * self.frame_s:
                c.dropped += round(gap / self.frame_s) - 1
        keyframe = self.segmenter.wants_keyframe(t)
        self.segmenter.add_video(self.video.encode(item.image, t, keyframe))
        c.frames += 1
        self.latest = item
        if c.first_t is None:
            c.first_t = t
        c.last_t = t

    def _sound(self, item: AudioItem) -> None:
        if self.audio is None or self.timeline is None:
            return
        stamp = item.wall_s - self.wall_minus_mono_s - self.t0
        blocks = self.timeline.add(stamp, item.samples, item.arrival_s - self.t0)
        self.counters.audio_chunks += 1
        for pts, block in blocks:
            self.segmenter.add_audio(self.audio.encode(block, _audio_pts(pts, self.audio)))
            self.counters.audio_blocks += 1


def _audio_pts(recording_samples: int, audio: AudioEncoder) -> int:
    """Samples since t = 0 to the encoder's timestamps (which carry the file's pts base)."""
    return recording_samples + round(PTS_BASE_S * audio.settings.sample_rate)
