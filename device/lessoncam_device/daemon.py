"""The unit's daemon: button and LED, one lesson at a time, uploads and heartbeats meanwhile.

Events (button presses, the recorder starting and finishing, storage and length limits) go
through one queue into the pure state machine (``states.step``); the daemon carries out the
actions it returns. Nothing recorded is deleted here: segments leave the unit only through the
upload queue's keep policy, after the server confirmed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sqlite3

from lessoncam_common.disk import disk_full

from . import __version__
from .clock import Clock
from .config import DeviceConfig
from .controls import Controls
from .enrolment import Credentials
from .hardware import lesson_plan
from .pictures import as_bgr
from .recorder import (
    LessonRecorder,
    MicrophoneUnavailable,
    RecorderError,
    RecorderOptions,
    closed_recording_segments,
    read_record,
    recording_dir,
    recover_recordings,
)
from .sd_notify import notify
from .segments import RecordingPlan, SegmentInfo
from .sources import Capture, HardwareUnavailable, SourcesFactory
from .spare_room import SpareRoom
from .states import (
    BUTTON_DEAD,
    STORAGE_REASONS,
    Action,
    Event,
    Facts,
    State,
    Status,
    led_pattern,
    step,
)
from .tracking.service import TrackingService
from .uploader import (
    Backoff,
    Heartbeat,
    KeepPolicy,
    ServerClient,
    Uploader,
    UploadQueue,
    UploadSettings,
)
from .uploader.heartbeat import jpeg_snapshot

log = logging.getLogger(__name__)

MONITOR_EVERY_S = 1.0
MIB = 1024 * 1024


class Daemon:
    """Runs the unit until ``stop()``; ``post()`` feeds it events from any thread."""

    def __init__(
        self,
        config: DeviceConfig,
        clock: Clock,
        sources: SourcesFactory,
        credentials: Credentials | None,
        *,
        recorder_options: RecorderOptions | None = None,
        pin_factory: object = None,
        use_pins: bool = True,
    ) -> None:
        self.config = config
        self.clock = clock
        self.sources = sources
        self.credentials = credentials
        self.recorder_options = recorder_options  # None: what suits the lesson's sources
        self.pin_factory = pin_factory
        self.use_pins = use_pins
        self.status = Status()
        self.state_dir = config.unit.state_dir
        self.queue: UploadQueue | None = None
        self.recorder: LessonRecorder | None = None
        self.uploader: Uploader | None = None
        self.last_error: str | None = None
        self._trouble: str | None = None  # what the current lesson's recorder reported
        self.finished_recordings: list[str] = []
        self.spare_room = SpareRoom(self.state_dir)
        self._unqueued: list[SegmentInfo] = []  # closed while the queue could not write
        self._events: asyncio.Queue[Event] = asyncio.Queue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping = asyncio.Event()
        self._started_at = 0.0
        self._controls: Controls | None = None
        self._button_problem: str | None = None  # why the button cannot be read
        self.tracking = TrackingService(config, clock)
        self.ready = asyncio.Event()

    # --- the outside world's handles ------------------------------------------------------

    def post(self, event: Event) -> None:
        """Queue ``event``; safe from gpiozero's threads."""
        if self._loop is None:
            raise RuntimeError("the daemon is not running")
        self._loop.call_soon_threadsafe(self._events.put_nowait, event)

    def stop(self) -> None:
        """Finish a lesson in progress cleanly, then end ``run``."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    def queue_length(self) -> int:
        """Segments and recordings not yet confirmed by the server."""
        return self.queue.queue_length() if self.queue is not None else 0

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.state_dir).free

    def storage_ok(self) -> bool:
        return self.free_bytes() >= self.config.recording.storage_reserve_mib * MIB

    def _storage_words(self) -> str:
        """How full the disk is, for the log and the heartbeat."""
        reserve = self.config.recording.storage_reserve_mib
        return f"{self.free_bytes() / MIB:.1f} MiB free of the {reserve} MiB the unit keeps free"

    # --- the main loop --------------------------------------------------------------------

    async def run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.queue = UploadQueue.open(self.state_dir, now=self.clock.now)
        if not self.spare_room.hold():
            log.warning("the disk is full: no spare room held (%s)", self._storage_words())
        background: list[asyncio.Task[None]] = []
        client: ServerClient | None = None
        try:
            await self._recover()
            if self.credentials is not None:
                up = self.config.uploads
                client = ServerClient(
                    self.credentials,
                    request_timeout_s=up.request_timeout_s,
                    connect_timeout_s=up.connect_timeout_s,
                )
                self.uploader = Uploader(self.queue, client, self.clock, self._upload_settings())
                heartbeat = Heartbeat(
                    client,
                    self.queue,
                    self.clock,
                    state=lambda: self.status.state.value,
                    version=__version__,
                    state_dir=self.state_dir,
                    interval_s=self.config.uploads.heartbeat_s,
                    problem=lambda: self.last_error,
                    snapshot=self._snapshot if self.config.uploads.snapshot else None,
                    tracking=self.tracking.state,
                )
                background += [
                    asyncio.create_task(self.uploader.run(), name="uploader"),
                    asyncio.create_task(heartbeat.run(), name="heartbeat"),
                ]
            else:
                log.warning(
                    "not enrolled: lessons are recorded and kept, uploads wait for "
                    "`lessoncam-device enroll`"
                )
            self._open_controls()
            self.tracking.open()
            background.append(asyncio.create_task(self._monitor(), name="monitor"))
            notify("READY=1", "STATUS=ready")
            self.ready.set()
            await self._handle_events()
        finally:
            if self.recorder is not None and self.status.state in (State.RECORDING, State.STARTING):
                await self._stop_recording()
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            if client is not None:
                await client.close()
            if self._controls is not None:
                self._controls.close()
            await self.tracking.stop()
            self.tracking.close()
            self.queue.close()

    async def _handle_events(self) -> None:
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            while True:
                getter = asyncio.create_task(self._events.get())
                done, _ = await asyncio.wait({getter, stopping}, return_when="FIRST_COMPLETED")
                if getter not in done:
                    getter.cancel()
                    if self.status.state in (State.IDLE, State.ERROR):
                        return
                    await self._apply(Event.STOP_REQUESTED)
                    continue
                await self._apply(getter.result())
                if self._stopping.is_set() and self.status.state in (State.IDLE, State.ERROR):
                    return
        finally:
            stopping.cancel()

    async def _apply(self, event: Event) -> None:
        before = self.status
        facts = Facts(
            storage_ok=self.storage_ok(),
            enrolled=self.credentials is not None,
            button_ok=self._button_problem is None,
        )
        self.status, actions = step(self.status, event, facts)
        if self.status != before:
            log.info(
                "%s -> %s on %s%s",
                before.state.value,
                self.status.state.value,
                event.value,
                f" ({self.status.reason})" if self.status.reason else "",
            )
            if self.status.reason in STORAGE_REASONS:
                self._trouble = self._storage_words()
            if self.status.reason:
                # The state's reason, with the recorder's (or the button's) own words.
                words = self._button_problem if self.status.reason == BUTTON_DEAD else self._trouble
                detail = f": {words}" if words else ""
                self.last_error = self.status.reason + detail
            notify(f"STATUS={self.status.state.value}")
        for action in actions:
            if action is Action.START_RECORDING:
                await self._start_recording()
            elif action is Action.STOP_RECORDING:
                await self._stop_recording()
        self._show()

    # --- recording ------------------------------------------------------------------------

    async def _start_recording(self) -> None:
        assert self.queue is not None
        self._trouble = None
        plan = lesson_plan(self.config, self.clock)
        recorder: LessonRecorder | None = None
        queued = False
        try:
            capture = self._capture(plan)
            recorder = capture.recorder
            self.queue.add_recording(plan)
            queued = True
            await recorder.start()
        except Exception as exc:  # whatever the hardware raised: said, and the unit lives on
            await self._start_failed(plan, recorder if queued else None, exc)
            return
        self.recorder = recorder
        self._started_at = self.clock.monotonic()
        await self.tracking.start(capture.frames)  # the main camera follows her
        self._events.put_nowait(Event.STARTED)

    async def _start_failed(
        self, plan: RecordingPlan, recorder: LessonRecorder | None, exc: Exception
    ) -> None:
        """Say why the lesson did not start (the microphone, the disk, or a camera), and
        close the queued recording: the recorder has already closed it on the disk."""
        known = (HardwareUnavailable, RecorderError, OSError, sqlite3.Error)
        if isinstance(exc, known):
            log.error("cannot start recording: %s", exc)
        else:
            log.exception("cannot start recording")
        if recorder is not None and self.queue is not None:
            with contextlib.suppress(RecorderError):
                counts = await recorder.stop()  # what the failed start closed it with
                try:
                    self.queue.close_recording(plan.recording_id, counts, interrupted=True)
                except (OSError, sqlite3.Error, ValueError) as close_exc:
                    log.error("lesson %s stays open in the queue: %s", plan.recording_id, close_exc)
                self.finished_recordings.append(plan.recording_id)
        if disk_full(exc):
            self._trouble = self._storage_words()
            self._events.put_nowait(Event.STORAGE_LOW)
            return
        self._trouble = str(exc) or repr(exc)
        if isinstance(exc, MicrophoneUnavailable):
            self._events.put_nowait(Event.MICROPHONE_FAILED)
        else:
            self._events.put_nowait(Event.CAMERA_FAILED)

    def _capture(self, plan: RecordingPlan) -> Capture:
        """The lesson's recorder, and what the tracker watches (the main camera's frames)."""
        sources = self.sources(self.config, plan, self.clock)
        return sources.capture(
            plan, self.state_dir, self.clock, self._segment_closed, self.recorder_options
        )

    def _segment_closed(self, info: SegmentInfo) -> None:
        assert self.queue is not None
        try:
            self.queue.add_segment(info)
        except (sqlite3.Error, OSError) as exc:
            # The disk filled under the queue: the file is safe, queue it at the stop.
            log.error("segment %s/%s not queued yet: %s", info.camera, info.sequence, exc)
            self._unqueued.append(info)
            return
        if self.uploader is not None:
            self.uploader.notify()

    async def _stop_recording(self) -> None:
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            self._events.put_nowait(Event.FINISHED)
            return
        assert self.queue is not None
        await self.tracking.stop()
        recording_id = recorder.plan.recording_id
        if self.free_bytes() < self.spare_room.size or recorder.stats().disk_full:
            self.spare_room.release()  # room to close the lesson and queue its segments
        try:
            counts = await recorder.stop()
            while self._unqueued:
                self.queue.add_segment(self._unqueued[0])
                self._unqueued.pop(0)
            interrupted = recorder.error is not None
            self.queue.close_recording(recording_id, counts, interrupted=interrupted)
        except (OSError, sqlite3.Error, ValueError) as exc:
            # Not even room to close it: it stays on the disk, closed by recovery later.
            log.error("lesson %s could not be closed yet: %s", recording_id, exc)
            self._trouble = f"lesson {recording_id} is closed once there is room ({exc})"
        else:
            log.info("lesson %s recorded: %s segments", recording_id, counts)
        self._unqueued.clear()
        self.finished_recordings.append(recording_id)
        if self.uploader is not None:
            self.uploader.notify()
        self._events.put_nowait(Event.FINISHED)

    async def _recover(self) -> None:
        """Close what a crash or power cut left open, and queue every byte of it."""
        assert self.queue is not None
        queue = self.queue
        for rec in await asyncio.to_thread(recover_recordings, self.state_dir):
            queue.add_recording(rec.plan)
            for info in rec.segments:
                queue.add_segment(info)
            queue.close_recording(
                rec.plan.recording_id,
                rec.marker.segments,
                missing=rec.marker.missing,
                interrupted=True,
            )
            log.warning(
                "recovered interrupted lesson %s: %s", rec.plan.recording_id, rec.marker.segments
            )
        # Closed on disk but not in the queue (a crash between the two): close it there too,
        # after queueing its segments (those the crash kept from the queue would be lost).
        for recording_id in queue.open_recordings():
            folder = recording_dir(self.state_dir, recording_id)
            with contextlib.suppress(OSError, ValueError):
                record = read_record(folder)
                if record.closed is not None:
                    segments = await asyncio.to_thread(
                        closed_recording_segments, folder, record.plan
                    )
                    for info in segments:
                        queue.add_segment(info)
                    queue.close_recording(
                        recording_id,
                        record.closed.segments,
                        missing=record.closed.missing,
                        interrupted=record.closed.interrupted,
                    )

    async def _monitor(self) -> None:
        """Storage reserve, maximum length, LED and the systemd watchdog, once a second."""
        frames_seen = -1
        while True:
            await self.clock.sleep(MONITOR_EVERY_S)
            recorder = self.recorder
            if recorder is not None and self.status.state is State.RECORDING:
                stats = recorder.stats()
                if not self.storage_ok() or stats.disk_full:
                    # Said as storage, not as a camera failure, however the full disk showed.
                    self._trouble = self._storage_words()
                    self._events.put_nowait(Event.STORAGE_LOW)
                elapsed = self.clock.monotonic() - self._started_at
                if elapsed >= self.config.recording.max_minutes * 60:
                    self._events.put_nowait(Event.MAX_LENGTH)
                if stats.errors and not stats.disk_full and self._trouble != stats.errors[0]:
                    # e.g. the microphone vanished: the lesson goes on, ICT should know.
                    self.last_error = self._trouble = stats.errors[0]
                    log.error("recording trouble: %s", self._trouble)
                if stats.failed_cameras:  # keep what was recorded, say so on the LED
                    self._events.put_nowait(Event.CAMERA_FAILED)
                frames = sum(c.frames for c in stats.cameras.values())
                if frames > frames_seen:  # the watchdog is fed only while frames advance
                    notify("WATCHDOG=1")
                frames_seen = frames
            else:
                frames_seen = -1
                notify("WATCHDOG=1")
                await self._storage_back()
            self._show()

    async def _storage_back(self) -> None:
        """Once there is room again: hold the spare room, close what could not be closed,
        and leave the storage error (the next press records)."""
        if not self.storage_ok():
            return
        if not self.spare_room.held and self.spare_room.hold():
            await self._recover()  # a lesson left open for want of room
        if self.status.state is State.ERROR and self.status.reason in STORAGE_REASONS:
            log.info("storage: %s again", self._storage_words())
            if self.last_error is not None and self.last_error.startswith("storage full"):
                self.last_error = None
            self._events.put_nowait(Event.STORAGE_OK)

    async def _snapshot(self) -> bytes | None:
        """A small JPEG of what the main camera sees, while it records (for aiming)."""
        recorder = self.recorder
        if recorder is None:
            return None
        image = await asyncio.to_thread(recorder.latest_frame)
        return None if image is None else await asyncio.to_thread(jpeg_snapshot, as_bgr(image))

    # --- button and light -----------------------------------------------------------------

    def _open_controls(self) -> None:
        """Open the button and the LED; one that cannot be opened is said in the log and the
        fleet view, and a dead button puts the unit in the attention state (on the LED, if
        that works): it must not look ready when a press would do nothing."""
        pins = self.config.controls
        if not self.use_pins or (pins.button_pin is None and pins.led_pin is None):
            return
        self._controls = Controls(
            self.post,
            button_pin=pins.button_pin,
            led_pin=pins.led_pin,
            long_press_s=pins.long_press_s,
            bounce_s=pins.bounce_s,
            pin_factory=self.pin_factory,
        )
        if self._controls.led_problem is not None:
            log.error("%s", self._controls.led_problem)
            self.last_error = self._controls.led_problem
        if self._controls.button_problem is not None:
            log.error("%s", self._controls.button_problem)
            self._button_problem = self._controls.button_problem
            self._events.put_nowait(Event.BUTTON_FAILED)

    def _show(self) -> None:
        if self._controls is None or self.queue is None:
            return
        self._controls.show(led_pattern(self.status, uploading=self.queue.queue_length() > 0))

    def _upload_settings(self) -> UploadSettings:
        up, rec = self.config.uploads, self.config.recording
        return UploadSettings(
            chunk_bytes=up.chunk_kib * 1024,
            backoff=Backoff(base_s=up.retry_base_s, cap_s=up.retry_cap_s),
            bandwidth_bytes_per_s=up.bandwidth_kib_s * 1024,
            windows=tuple(up.windows),
            keep=KeepPolicy(mode=rec.keep, days=rec.keep_days),
        )
