"""Checks that need nobody at the unit and no camera: the config, the free disk, the server."""

from __future__ import annotations

import shutil
from pathlib import Path

from .. import __version__
from ..config import DeviceConfig
from ..enrolment import Credentials
from ..tracking.detection_stream import tracking_problems
from ..uploader.client import ServerClient, Unauthorized, Unavailable, UploadError
from ..video_encoding import video_encoding
from .report import Check, failed, passed

MIB = 1024 * 1024
AUDIO_BPS = 128_000  # generous for the AAC track


def check_config(config: DeviceConfig) -> Check:
    """What ``check-config`` refuses beyond the file's own validity (the marker's size)."""
    problems = tracking_problems(config)
    if problems:
        return failed("config", "the marker is too small for the room", "; ".join(problems))
    return passed("config", "the configuration is valid and the marker suits the room")


def lesson_hour_bytes(config: DeviceConfig, model: str) -> int:
    """About what an hour of lesson takes on the disk, every camera and the sound."""
    bits = sum(
        video_encoding(config.video, model, (cam.width, cam.height), float(cam.fps)).bitrate
        for cam in config.cameras.values()
    )
    if config.audio.source != "none":
        bits += AUDIO_BPS
    return bits * 3600 // 8


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_disk(config: DeviceConfig, model: str) -> Check:
    """Room for at least an hour of lesson above the reserve the unit keeps free."""
    state_dir = config.unit.state_dir
    free = shutil.disk_usage(_existing(state_dir)).free
    reserve = config.recording.storage_reserve_mib * MIB
    hour = lesson_hour_bytes(config, model)
    hours = max(0.0, (free - reserve) / hour)
    figures = {"free_mib": free // MIB, "reserve_mib": reserve // MIB, "hours": round(hours, 1)}
    said = (
        f"{free / MIB / 1024:.1f} GiB free in {state_dir}, {hours:.1f} hours of lessons "
        f"above the {reserve // MIB} MiB the unit keeps free"
    )
    if hours < 1.0:
        return failed(
            "disk",
            said,
            f"free space in {state_dir} (an enrolled unit uploads its lessons and then deletes "
            "them by itself), or fit a bigger SD card; [recording] storage_reserve_mib sets "
            "the reserve",
            **figures,
        )
    return passed("disk", said, **figures)


async def check_server(credentials: Credentials | None, timeout_s: float = 15.0) -> Check:
    """The server answers a heartbeat sent with this unit's token."""
    if credentials is None:
        return failed(
            "server",
            "this unit is not enrolled: it records, but nothing reaches the server",
            "get a code from the server's admin and run `lessoncam-device enroll --server URL "
            "--code CODE`",
        )
    url = credentials.server_url
    client = ServerClient(credentials, request_timeout_s=timeout_s, connect_timeout_s=timeout_s)
    try:
        await client.heartbeat({"state": "selftest", "version": __version__})
    except Unauthorized:
        return failed(
            "server",
            f"{url} refused this unit's token (HTTP 401)",
            "the unit was revoked or enrolled again: get a new code from the admin and run "
            "`lessoncam-device enroll`",
            server=url,
        )
    except Unavailable as exc:
        return failed(
            "server",
            f"no answer from {url} ({exc.message})",
            f"check the unit's network and the server's address (try `curl {url}/healthz`)",
            server=url,
        )
    except UploadError as exc:
        return failed(
            "server",
            f"{url} refused the heartbeat ({exc.message})",
            "see the server's log; the unit's software may be too old or too new for it",
            server=url,
        )
    finally:
        await client.close()
    return passed("server", f"{url} answered this unit's heartbeat", server=url)
