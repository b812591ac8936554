"""Uploading a video from the browser: tus (tuspy, as tus-js-client would), resumable,
refused when it is no video, remuxed (never re-encoded) into a lesson of the uploader."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from tusclient.client import TusClient
from tusclient.exceptions import TusCommunicationError

from lessoncam_server.access.sessions import COOKIE_NAME
from lessoncam_server.media.probing import sniff
from lessoncam_server.services import Services
from lessoncam_server.uploads.browser import UPLOAD_PREFIX

from ..mediagen import make_phone_video, read_frame_index, top_level_boxes
from .helpers import Person, UnitClient
from .lesson_fixtures import assembled
from .test_tus_clients import KeptOpen, MemoryUrlStorage

CHUNK = 16 * 1024


@pytest.fixture
def config_data(tmp_path: Path) -> dict[str, Any]:
    """Every test here runs with a 1 MiB limit (the synthetic phone videos are smaller)."""
    return {"storage": {"data_dir": str(tmp_path / "data")}, "uploads": {"browser_max_size_mib": 1}}


def browser_headers(person: Person) -> dict[str, str]:
    """What tus-js-client sends from a signed-in page: the cookie and the CSRF token."""
    cookie = next(c for c in person.client.session.cookie_jar if c.key == COOKIE_NAME)
    return {"Cookie": f"{COOKIE_NAME}={cookie.value}", "X-CSRF-Token": person.csrf}


def url(server: TestServer) -> str:
    return f"http://127.0.0.1:{server.port}{UPLOAD_PREFIX}/"


def upload(
    server: TestServer, headers: dict[str, str], data: bytes, metadata: dict[str, str]
) -> str:
    uploader = TusClient(url(server), headers=headers).uploader(
        file_stream=io.BytesIO(data), chunk_size=CHUNK, metadata=metadata
    )
    uploader.upload()
    return str(uploader.url)


def packets(data: bytes) -> list[bytes]:
    with av.open(io.BytesIO(data)) as c:
        return [bytes(p) for p in c.demux(c.streams.video[0]) if p.size]


async def lesson_of(person: Person, upload_url: str) -> dict[str, Any]:
    path = upload_url[upload_url.index(UPLOAD_PREFIX) :]
    head = await person.request("HEAD", path, headers={"Tus-Resumable": "1.0.0"})
    result = json.loads(head.headers["Lessoncam-Upload-Result"])
    lesson: dict[str, Any] = await person.json("GET", f"/api/v1/lessons/{result['lesson_id']}")
    return lesson


async def test_a_phone_video_becomes_a_lesson_without_re_encoding(
    anna: Person, server: TestServer, services: Services, tmp_path: Path
) -> None:
    phone = make_phone_video(tmp_path / "IMG_0042.MOV", seconds=4)
    data = phone.read_bytes()
    location = await asyncio.to_thread(
        upload,
        server,
        browser_headers(anna),
        data,
        {"filename": "IMG_0042.MOV", "filetype": "video/quicktime"},
    )
    await assembled(services)
    lesson = await lesson_of(anna, location)
    assert lesson["state"] == "ready", lesson
    assert lesson["kind"] == "upload" and lesson["is_owner"] and lesson["title"] == "IMG_0042"
    assert abs(lesson["duration_s"] - 4.0) < 0.1 and lesson["unit"] is None
    camera = lesson["cameras"][0]
    assert camera["has_audio"] and camera["thumbnails"]["count"] >= 2
    mp4 = await (await anna.request("GET", camera["video_url"])).read()
    assert packets(mp4) == packets(data)  # the same H.264, byte for byte
    out = tmp_path / "served.mp4"
    out.write_bytes(mp4)
    boxes = top_level_boxes(out)
    assert boxes.index("moov") < boxes.index("mdat")  # faststart: plays while it downloads
    with av.open(io.BytesIO(mp4)) as c:
        assert sorted(s.type for s in c.streams) == ["audio", "video"]
        first = next(c.decode(video=0))
        assert read_frame_index(first) == 0 and abs(float(first.time)) < 0.05
    assert (await anna.request("GET", lesson["poster_url"])).status == 200
    assert [entry["id"] for entry in (await anna.json("GET", "/api/v1/lessons"))["lessons"]] == [
        lesson["id"]
    ]
    # The upload's original is not kept beside the lesson.
    names = sorted(p.name for p in services.paths.recording_dir(lesson["id"]).iterdir())
    assert not any("upload" in name for name in names)


async def test_the_upload_resumes_after_a_reload(
    anna: Person, server: TestServer, services: Services, tmp_path: Path
) -> None:
    data = make_phone_video(tmp_path / "clip.mp4", seconds=6).read_bytes()
    assert len(data) > 3 * CHUNK
    urls = MemoryUrlStorage()  # tus-js-client keeps upload URLs in localStorage the same way
    headers = browser_headers(anna)

    def first_page() -> int:
        uploader = TusClient(url(server), headers=headers).uploader(
            file_stream=KeptOpen(data), chunk_size=CHUNK, store_url=True, url_storage=urls
        )
        uploader.upload_chunk()
        uploader.upload_chunk()
        return int(uploader.offset)

    def after_reload() -> tuple[int, str]:
        uploader = TusClient(url(server), headers=headers).uploader(
            file_stream=KeptOpen(data), chunk_size=CHUNK, store_url=True, url_storage=urls
        )
        start = int(uploader.offset)  # asked the server with HEAD
        uploader.upload()
        return start, str(uploader.url)

    sent = await asyncio.to_thread(first_page)
    resumed_at, location = await asyncio.to_thread(after_reload)
    assert resumed_at == sent == 2 * CHUNK
    await assembled(services)
    lesson = await lesson_of(anna, location)
    assert lesson["state"] == "ready" and abs(lesson["duration_s"] - 6.0) < 0.1


async def test_a_file_that_is_not_a_video_is_refused_and_nothing_is_kept(
    anna: Person, server: TestServer, services: Services, tmp_path: Path
) -> None:
    headers = browser_headers(anna)
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 400
    with pytest.raises(TusCommunicationError) as refused:
        await asyncio.to_thread(upload, server, headers, pdf, {"filename": "notes.pdf"})
    assert refused.value.status_code == 415 and "not_a_video" in str(refused.value.response_content)
    # A browser that knows the type is refused before any byte is sent.
    with pytest.raises(TusCommunicationError) as early:
        await asyncio.to_thread(
            upload, server, headers, pdf, {"filename": "a.jpg", "filetype": "image/jpeg"}
        )
    assert early.value.status_code == 415
    # Audio only is no video either.
    wav = tmp_path / "voice.m4a"
    with av.open(str(wav), "w", format="mp4") as c:
        stream = c.add_stream("aac", rate=48000)
        for i in range(50):
            frame = av.AudioFrame.from_ndarray(
                np.zeros((1, 1024), np.float32), format="fltp", layout="mono"
            )
            frame.sample_rate, frame.pts = 48000, i * 1024
            c.mux(stream.encode(frame))
        c.mux(stream.encode(None))
    with pytest.raises(TusCommunicationError) as audio_only:
        await asyncio.to_thread(upload, server, headers, wav.read_bytes(), {"filename": "v.m4a"})
    assert audio_only.value.status_code == 415
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0
    assert list(services.paths.recordings.iterdir()) == []


async def test_a_video_a_browser_cannot_play_fails_with_a_reason(
    anna: Person, server: TestServer, services: Services, tmp_path: Path
) -> None:
    hevc = make_phone_video(tmp_path / "iphone.mov", seconds=2, codec="libx265").read_bytes()
    location = await asyncio.to_thread(
        upload, server, browser_headers(anna), hevc, {"filename": "iphone.mov"}
    )
    await assembled(services)
    lesson = await lesson_of(anna, location)
    assert lesson["state"] == "failed"
    assert lesson["state_reason"].startswith("video_codec_unsupported: hevc")
    assert lesson["cameras"][0]["video_url"] is None
    assert list(services.paths.recordings.iterdir()) == []  # the file is not kept
    assert not [p for p in (services.paths.root / "lesson-uploads").iterdir() if p.suffix == ".bin"]
    await anna.json("DELETE", f"/api/v1/lessons/{lesson['id']}", 204)


async def test_who_may_upload(
    anna: Person,
    admin: Person,
    unit: UnitClient,
    server: TestServer,
    new_client: Callable[[], Awaitable[Any]],
    tmp_path: Path,
) -> None:
    data = make_phone_video(tmp_path / "a.mp4", seconds=1).read_bytes()
    create = {"Tus-Resumable": "1.0.0", "Upload-Length": str(len(data))}
    no_csrf = await anna.client.post(f"{UPLOAD_PREFIX}/", headers=create)
    assert no_csrf.status == 403 and (await no_csrf.json())["error"] == "csrf"
    elsewhere = await anna.request(
        "POST", f"{UPLOAD_PREFIX}/", headers={**create, "Origin": "https://evil.example"}
    )
    assert elsewhere.status == 403
    anonymous = await (await new_client()).post(f"{UPLOAD_PREFIX}/", headers=create)
    assert anonymous.status == 401
    assert (await admin.request("POST", f"{UPLOAD_PREFIX}/", headers=create)).status == 403
    as_unit = await unit.request("POST", f"{UPLOAD_PREFIX}/", headers=create)
    assert as_unit.status == 403
    ok = await anna.request("POST", f"{UPLOAD_PREFIX}/", headers=create)
    assert ok.status == 201
    # Someone else's upload does not exist for anybody else.
    path = ok.headers["Location"][ok.headers["Location"].index(UPLOAD_PREFIX) :]
    bert_sees = await admin.request("HEAD", path, headers=create)
    assert bert_sees.status == 404


async def test_the_size_limit_comes_from_the_config(anna: Person) -> None:
    options = await anna.request("OPTIONS", f"{UPLOAD_PREFIX}/")
    assert options.headers["Tus-Max-Size"] == str(1024 * 1024)
    big = await anna.request(
        "POST",
        f"{UPLOAD_PREFIX}/",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(1024 * 1024 + 1)},
    )
    assert big.status == 413


def test_sniffing_recognises_what_is_clearly_no_video(tmp_path: Path) -> None:
    phone = make_phone_video(tmp_path / "a.mov", seconds=1).read_bytes()[:64]
    assert sniff(phone) is None
    assert sniff(b"\x1a\x45\xdf\xa3" + bytes(60)) is None  # Matroska/WebM: may be a video
    assert sniff(b"RIFF\x00\x10\x00\x00AVI LIST") is None
    assert sniff(b"\xff\xd8\xff\xe0\x00\x10JFIF") == "a JPEG photo"
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "a HEIC photo"
    assert sniff(b"RIFF\x00\x10\x00\x00WAVEfmt ") == "a WAV sound file"
    assert sniff(b"PK\x03\x04\x14\x00") == "a ZIP archive or an Office document"


async def test_a_photo_is_refused_after_its_first_chunk(anna: Person, services: Services) -> None:
    photo = b"\xff\xd8\xff\xe1" + bytes(200_000)
    created = await anna.request(
        "POST",
        f"{UPLOAD_PREFIX}/",
        headers={"Tus-Resumable": "1.0.0", "Upload-Length": str(len(photo))},
    )
    assert created.status == 201
    item = created.headers["Location"][created.headers["Location"].index(UPLOAD_PREFIX) :]
    first = await anna.request(
        "PATCH",
        item,
        data=photo[:CHUNK],
        headers={
            "Tus-Resumable": "1.0.0",
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert first.status == 415
    assert (await first.text()).startswith("not_a_video: this is a JPEG photo")
    gone = await anna.request("HEAD", item, headers={"Tus-Resumable": "1.0.0"})
    assert gone.status == 404  # deleted: the other 180 KB are never sent
    assert services.db.execute("SELECT COUNT(*) FROM recordings").fetchone()[0] == 0
