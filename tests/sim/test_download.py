"""Downloads (httpdl.cgi): multipart parts with file names and status, real MP4 files."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
import io
import math
import time

import aiohttp
import av
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig

from .helpers import Part, client_session, get_bytes, login, read_parts, url

SMALL = {"width": 160, "height": 120, "fps": 5}


def stamp(when: datetime) -> str:
    return f"{when:%y%m%d%H%M}00"


def minutes_ago(minutes: int) -> datetime:
    now = math.floor(time.time() / 60) * 60
    return datetime.fromtimestamp(now - minutes * 60, UTC)


def params(
    uid: str, start: datetime, end: datetime, kind: str = "MP4", camera: int = 1
) -> tuple[tuple[str, str], ...]:
    return (
        ("UID", uid),
        ("STARTTIME", stamp(start)),
        ("ENDTIME", stamp(end)),
        ("KIND", kind),
        ("CAM", str(camera)),
        ("PC", "AS60"),
    )


async def download(
    session: aiohttp.ClientSession, sim: NvrSimulator, query: tuple[tuple[str, str], ...]
) -> tuple[aiohttp.ClientResponse, list[Part]]:
    async with session.get(url(sim, "httpdl.cgi", query)) as response:
        assert response.status == 200
        parts = [part async for part in read_parts(response)]
        return response, parts


def files(parts: list[Part]) -> dict[str, bytes]:
    """Rebuild the files as a client would: by temp name, renamed on X-Prev-Filename."""
    result: dict[str, bytes] = {}
    current = bytearray()
    temp = None
    for part in parts:
        previous = part.headers["x-prev-filename"].split('"')[1]
        if previous:
            assert temp is not None
            assert previous.rsplit(".", 1)[0] == temp.rsplit(".", 1)[0]
            result[previous] = bytes(current)
            current = bytearray()
        temp = part.headers["x-temp-filename"].split('"')[1] or None
        current += part.body
    assert not current
    return result


def probe(data: bytes) -> tuple[list[str], float, int]:
    assert data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data)) as container:
        codecs = [stream.codec_context.name for stream in container.streams]
        frames = sum(1 for _ in container.decode(video=0))
        assert container.duration is not None
        return codecs, container.duration / 1_000_000, frames


async def test_mp4_download() -> None:
    start = minutes_ago(10)
    end = start + timedelta(minutes=2)
    async with NvrSimulator(SimulatorConfig(**SMALL)) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        response, parts = await download(session, sim, params(uid, start, end))
        assert response.headers["Content-Type"] == "multipart/form-data; boundary=myboundary"
        assert sim.active_downloads == 0
    first = parts[0].headers
    local = start + timedelta(hours=9)
    assert first["x-temp-filename"] == f'filename = "001_{local:%y%m%d%H%M%S}_1000_7f_00_01.tmp"'
    assert first["x-prev-filename"] == 'filename = ""'
    assert first["x-recdata-satus"] == "0"
    assert first["content-type"] == "application/octet-stream"
    last = parts[-1].headers
    assert last["x-temp-filename"] == 'filename = ""'
    assert last["x-prev-filename"] == f'filename = "001_{local:%y%m%d%H%M%S}_1000_7f_00_01.mp4"'
    assert parts[-1].body == b""
    assert len(parts) > 3
    (data,) = files(parts).values()
    codecs, duration, frames = probe(data)
    assert codecs == ["h264", "aac"]
    assert duration == pytest.approx(120, abs=0.5)
    assert frames == 600


async def test_mp4_of_g711_camera_has_no_audio_track() -> None:
    start = minutes_ago(4)
    config = SimulatorConfig(audio="G.711", boundary_in_header=False, **SMALL)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        response, parts = await download(
            session, sim, params(uid, start, start + timedelta(minutes=1))
        )
        assert response.headers["Content-Type"] == "multipart/form-data"
    (data,) = files(parts).values()
    assert probe(data)[0] == ["h264"]


async def test_video_only_h265_split_by_knob() -> None:
    config = SimulatorConfig(camera_codecs={2: "H265"}, **SMALL)
    start = minutes_ago(5)
    end = start + timedelta(minutes=3)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        sim.faults.download_split_files = 3
        uid = await login(session, sim)
        _, parts = await download(session, sim, params(uid, start, end, "MP4VO", camera=2))
    result = files(parts)
    assert len(result) == 3
    names = sorted(result)
    assert [name.split("_")[2] for name in names] == ["1000", "2000", "3000"]
    assert all(name.startswith("002_") and name.endswith(".mp4") for name in names)
    total = 0.0
    for name in names:
        codecs, duration, _ = probe(result[name])
        assert codecs == ["hevc"]
        total += duration
    assert total == pytest.approx(180, abs=1)


async def test_long_period_splits_by_file_length() -> None:
    config = SimulatorConfig(download_file_seconds=60, download_part_size=4096, **SMALL)
    start = minutes_ago(10)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        _, parts = await download(session, sim, params(uid, start, start + timedelta(minutes=2)))
    assert len(files(parts)) == 2
    assert max(len(part.body) for part in parts) == 4096


@pytest.mark.parametrize(
    ("camera", "kind", "offset", "status"),
    [
        (1, "MP4", timedelta(minutes=5), 1),
        (1, "MP4", -timedelta(days=30), 1),
        (5, "MP4", -timedelta(minutes=10), 1),
        (3, "MP4", -timedelta(minutes=10), 2),
        (3, "MP4VO", -timedelta(minutes=10), 2),
    ],
)
async def test_status_answers(camera: int, kind: str, offset: timedelta, status: int) -> None:
    config = SimulatorConfig(camera_codecs={3: "JPEG"}, **SMALL)
    start = minutes_ago(0) + offset
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        query = params(uid, start, start + timedelta(minutes=1), kind, camera)
        _, parts = await download(session, sim, query)
    assert len(parts) == 1
    assert parts[0].headers["x-recdata-satus"] == str(status)
    assert parts[0].headers["x-temp-filename"] == 'filename = ""'
    assert parts[0].headers["x-prev-filename"] == 'filename = ""'
    assert parts[0].body == b""


async def test_third_download_gets_status_3() -> None:
    config = SimulatorConfig(download_bytes_per_second=200_000, download_part_size=8192, **SMALL)
    start = minutes_ago(10)
    query_end = start + timedelta(minutes=1)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        query = params(uid, start, query_end)
        running = []
        for _ in range(2):
            response = await session.get(url(sim, "httpdl.cgi", query))
            running.append(response)
        async with asyncio.timeout(5):
            for response in running:
                await anext(read_parts(response))
        assert sim.active_downloads == 2
        _, parts = await download(session, sim, query)
        assert parts[0].headers["x-recdata-satus"] == "3"
        for response in running:
            response.close()
        for _ in range(50):
            if sim.active_downloads == 0:
                break
            await asyncio.sleep(0.05)
        assert sim.active_downloads == 0


async def test_n3_and_list_and_knobs() -> None:
    config = SimulatorConfig(
        download_status_header="X-RecData-Status",
        download_content_type="multipart/form-data; boundary=--myboundary",
        **SMALL,
    )
    start = minutes_ago(3)
    end = start + timedelta(minutes=1)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        response, parts = await download(session, sim, params(uid, start, end, "N3"))
        assert response.headers["Content-Type"] == "multipart/form-data; boundary=--myboundary"
        assert "x-recdata-status" in parts[0].headers
        ((name, data),) = files(parts).items()
        assert name.endswith(".n3r")
        assert data[:2] == b"\xff\x15"
        assert len(data) % 4096 == 0
        assert data.count(b"\xff\x06\x00\x44") == 60
        sim.faults.download_file_name = "../../evil"
        _, parts = await download(session, sim, params(uid, start, end, "LIST"))
        ((name, data),) = files(parts).items()
        assert name == "../../evil.n3n"
        assert parts[0].headers["x-temp-filename"] == 'filename = "../../evil.tmp"'
        assert data.startswith(b"CAM,1\r\nSTART,")


async def test_parameters_are_checked(nvr_sim: NvrSimulator) -> None:
    start = minutes_ago(30)
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        status, body = await get_bytes(session, nvr_sim, "httpdl.cgi", *params(uid, start, start))
        assert (status, body) == (200, b"")
        for query in (
            params(uid, start, start + timedelta(minutes=61)),
            params(uid, start, start - timedelta(minutes=1)),
            params(uid, start, start + timedelta(minutes=1), "AVI"),
            params(uid, start, start + timedelta(minutes=1), camera=17),
            tuple(
                (k, v[:-2] + "30" if k == "STARTTIME" else v) for k, v in params(uid, start, start)
            ),
            tuple((k, v) for k, v in params(uid, start, start) if k != "PC"),
        ):
            status, _ = await get_bytes(session, nvr_sim, "httpdl.cgi", *query)
            assert status == 400, query
