"""Playback: recorder control (hdrctl.cgi), GOPs (camera.cgi) and audio (playaudio.cgi)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import io
import math
import struct
import time

import aiohttp
import av
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig

from .helpers import client_session, decode_video, get_bytes, get_text, login, parse_tlvs

SMALL = {"width": 160, "height": 120, "fps": 5}


def timef(when: datetime, hundredths: int = 0) -> str:
    return f"{when:%y%m%d%H%M%S}{hundredths:02d}"


async def playcmd(
    session: aiohttp.ClientSession,
    sim: NvrSimulator,
    uid: str,
    command: str,
    when: datetime | None = None,
) -> tuple[int, str]:
    params = [("UID", uid), ("PC", "AS60"), ("PLAYCMD", command), ("2ND", "OFF")]
    params.append(("TIMEF", "AS60_UNKNOWN" if when is None else timef(when)))
    if command in ("PAUSE", "FF", "REW"):
        params.append(("SMOOTH", "OFF"))
    if command == "GOTODATE":
        params.append(("SDBACKUP", "0"))
    if command != "STOP":
        params.append(("NOTIME", "ON"))
    return await get_text(session, sim, "hdrctl.cgi", *params)


async def mask(
    session: aiohttp.ClientSession, sim: NvrSimulator, uid: str, cameras: set[int]
) -> int:
    digits = "".join("1" if n in cameras else "0" for n in range(1, sim.config.cameras + 1))
    status, _ = await get_text(
        session, sim, "hdrctl.cgi", ("UID", uid), ("PC", "AS60"), ("MASK", digits)
    )
    return status


@dataclass
class Gop:
    chunk: bytes
    recorder: dict[int, bytes]
    camera: dict[int, bytes]
    start: float
    end: float
    start_tz: bytes
    first_picture: float
    pictures: list[bytes]
    picture_cameras: list[dict[int, bytes]]

    @property
    def status(self) -> tuple[int, int]:
        return self.recorder[0x000D][0], self.recorder[0x000D][1]


def parse_gop(data: bytes) -> Gop:
    """Parse a camera.cgi answer as spec 3.3.1 and PROTOCOL-NOTES describe it."""
    assert len(data) % 4096 == 0
    if data[:2] == b"\xff\xd8":
        assert data[2:4] == b"\xff\xff"
        (length,) = struct.unpack(">H", data[4:6])
        pos = 6
    else:
        (length,) = struct.unpack(">H", data[2:4])
        pos = 4
    recorder = parse_tlvs(data[pos : pos + length])
    pos += length
    stream = data.index(b"\xff\x06\x00\x44", pos)
    assert data[stream - 12 : stream] == bytes(12)
    camera = parse_tlvs(data[pos : stream - 12])
    pos = stream + 4
    gop_info = data[pos : pos + 32]
    assert gop_info[:16] == bytes(16)
    end, _, _, _, _ = struct.unpack(">IBBBB", gop_info[16:24])
    end_hundredths = gop_info[20]
    start = struct.unpack(">I", gop_info[24:28])[0] + gop_info[28] / 100
    pic_info = data[pos + 32 : pos + 64]
    first_picture = struct.unpack(">I", pic_info[16:20])[0] + pic_info[20] / 100
    pos += 64
    pictures: list[bytes] = []
    picture_cameras: list[dict[int, bytes]] = []
    while pos < len(data):
        if data[pos : pos + 2] == b"\xff\x05":
            padding, size = struct.unpack(">HI", data[pos + 2 : pos + 8])
            body = data[pos + 24 : pos + 24 + size]
            assert data[pos + 24 + size : pos + 24 + size + padding] == bytes(padding)
            assert (size + padding) % 4 == 0
            pictures.append(body)
            pos += 24 + size + padding
        elif data[pos : pos + 2] == b"\x00\x11":
            following = data.index(b"\xff\x05", pos)
            picture_cameras.append(parse_tlvs(data[pos:following]))
            pos = following
        else:
            assert data[pos:] == bytes(len(data) - pos)
            break
    return Gop(
        chunk=data[:2],
        recorder=recorder,
        camera=camera,
        start=start,
        end=end + end_hundredths / 100,
        start_tz=gop_info[29:32],
        first_picture=first_picture,
        pictures=pictures,
        picture_cameras=picture_cameras,
    )


async def gop(session: aiohttp.ClientSession, sim: NvrSimulator, uid: str, camera: int) -> Gop:
    async with session.get(f"{sim.url}/cgi-bin/camera.cgi?UID={uid}&CAM={camera}") as response:
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "application/octet-stream"
        return parse_gop(await response.read())


def an_hour_ago() -> datetime:
    return datetime.fromtimestamp(math.floor(time.time()) - 3600, UTC)


async def test_gotodate_then_play_forward(nvr_sim: NvrSimulator) -> None:
    when = an_hour_ago()
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        assert await mask(session, nvr_sim, uid, {1, 2}) == 200
        assert await playcmd(session, nvr_sim, uid, "GOTODATE", when) == (
            200,
            "<HTML>\r\nOK\r\n</HTML>\r\n",
        )
        first = await gop(session, nvr_sim, uid, 1)
        second = await gop(session, nvr_sim, uid, 1)
        other = await gop(session, nvr_sim, uid, 2)
    assert first.chunk == b"\xff\x15"
    assert first.start == when.timestamp()
    assert first.first_picture == first.start
    assert math.isclose(first.end, when.timestamp() + 0.9)
    assert first.start_tz == b"\x09\x00\x00"
    assert second.start == first.start + 1
    assert other.start == first.start
    recorder = first.recorder
    assert recorder[0x0004] == b"\x00\x01\x00\x00"
    assert recorder[0x0005] == b"\x00\x03\x00\x00"
    assert struct.unpack(">I", recorder[0x0006])[0] == sum(len(p) for p in first.pictures)
    assert struct.unpack(">I", recorder[0x0007][:4])[0] == when.timestamp()
    assert recorder[0x0008] == b"\x00\x0a\x00\x00"
    assert recorder[0x0009] == b"\x00\x64\x00\x00"
    assert recorder[0x000C] == b"\x00\x01\x00\x00"
    assert first.status == (0x02, 0)
    assert recorder[0x0027] == b"\x00\x01\x00\x00"
    assert recorder[0x0029] == b"\x00\x01\x00\x00"
    assert set(first.camera) == {0x0011, 0x0012}
    assert len(first.pictures) == 10
    assert len(first.picture_cameras) == 9
    assert struct.unpack(">H", first.picture_cameras[0][0x0012][:2])[0] == 10
    assert all(p.startswith(b"\x00\x00\x00\x01\x09") for p in first.pictures)
    frames = decode_video("h264", first.pictures + second.pictures)
    assert len(frames) == 20
    assert (frames[0].width, frames[0].height) == (320, 240)


@pytest.mark.parametrize(
    ("command", "status", "steps"),
    [
        ("BPLAY", 0x03, [0, -1, -2]),
        ("PAUSE", 0x06, [0, 0, 0]),
        ("NEXTFRAME", 0x07, [0, 1, 2]),
        ("PREVFRAME", 0x08, [0, -1, -2]),
        ("FF", 0x04, [0, 2, 4]),
        ("REW", 0x05, [0, -2, -4]),
    ],
)
async def test_recorder_control_moves_the_cursor(
    command: str, status: int, steps: list[int]
) -> None:
    when = an_hour_ago()
    async with NvrSimulator(SimulatorConfig(**SMALL)) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await mask(session, sim, uid, {1})
        assert (await playcmd(session, sim, uid, command, when))[0] == 200
        gops = [await gop(session, sim, uid, 1) for _ in steps]
    assert [g.start - when.timestamp() for g in gops] == steps
    speed = 1 if command in ("FF", "REW") else 0
    assert {g.status for g in gops} == {(status, speed)}


async def test_fast_forward_speeds_up_when_repeated(nvr_sim: NvrSimulator) -> None:
    when = an_hour_ago()
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await mask(session, nvr_sim, uid, {1})
        for _ in range(3):
            await playcmd(session, nvr_sim, uid, "FF", when)
        first, second = await gop(session, nvr_sim, uid, 1), await gop(session, nvr_sim, uid, 1)
        for _ in range(9):
            await playcmd(session, nvr_sim, uid, "REW", when)
        rewound = await gop(session, nvr_sim, uid, 1)
    assert first.status == (0x04, 3)
    assert second.start - first.start == 4
    assert rewound.status == (0x05, 8)


async def test_play_without_date_and_resume(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await mask(session, nvr_sim, uid, {1})
        await playcmd(session, nvr_sim, uid, "PLAY")
        started = await gop(session, nvr_sim, uid, 1)
        assert 55 <= time.time() - started.start <= 65
        await playcmd(session, nvr_sim, uid, "PAUSE", datetime.fromtimestamp(started.start, UTC))
        await gop(session, nvr_sim, uid, 1)
        await playcmd(session, nvr_sim, uid, "PLAY")
        resumed = await gop(session, nvr_sim, uid, 1)
        assert resumed.start == started.start
        assert resumed.status == (0x02, 0)
        await playcmd(session, nvr_sim, uid, "STOP", datetime.now(UTC))
        await playcmd(session, nvr_sim, uid, "PLAY")
        again = await gop(session, nvr_sim, uid, 1)
        assert again.start >= resumed.start


async def test_cursor_stays_within_the_recording(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await mask(session, nvr_sim, uid, {1})
        await playcmd(session, nvr_sim, uid, "BPLAY", datetime(2022, 1, 1, tzinfo=UTC))
        oldest = [await gop(session, nvr_sim, uid, 1) for _ in range(2)]
        await playcmd(session, nvr_sim, uid, "GOTODATE", datetime.now(UTC) + timedelta(hours=1))
        newest = [await gop(session, nvr_sim, uid, 1) for _ in range(2)]
    assert oldest[0].start == oldest[1].start == nvr_sim.recording.start
    assert newest[0].start == newest[1].start
    assert time.time() - 2.5 < newest[0].start < time.time()


async def test_at_most_16_cameras_play_back_on_a_uid() -> None:
    async with NvrSimulator(SimulatorConfig(cameras=32)) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        assert await mask(session, sim, uid, set(range(1, 17))) == 200
        assert await mask(session, sim, uid, set(range(1, 18))) == 400


async def test_h265_and_jpeg_recordings() -> None:
    config = SimulatorConfig(camera_codecs={2: "H265", 3: "JPEG"}, **SMALL)
    when = an_hour_ago()
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await mask(session, sim, uid, {2, 3})
        await playcmd(session, sim, uid, "GOTODATE", when)
        hevc = await gop(session, sim, uid, 2)
        pictures = [await gop(session, sim, uid, 3) for _ in range(3)]
    assert hevc.chunk == b"\xff\x16"
    assert hevc.recorder[0x0005] == b"\x00\x04\x00\x00"
    assert len(decode_video("hevc", hevc.pictures)) == 5
    assert [p.start - when.timestamp() for p in pictures] == pytest.approx([0, 0.2, 0.4])
    jpeg = pictures[0]
    assert jpeg.chunk == b"\xff\xd8"
    assert 0x0005 not in jpeg.recorder
    assert 0x0027 not in jpeg.recorder
    assert len(jpeg.pictures) == 1
    with av.open(io.BytesIO(jpeg.pictures[0]), format="mjpeg") as container:
        assert next(container.decode(video=0)).width == 160


async def test_playback_rules(nvr_sim: NvrSimulator) -> None:
    when = an_hour_ago()
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        status, text = await playcmd(session, nvr_sim, uid, "GOTODATE", when)
        assert (status, "MASK" in text) == (400, True)
        status, _ = await get_bytes(session, nvr_sim, "camera.cgi", ("UID", uid), ("CAM", "1"))
        assert status == 400
        assert await mask(session, nvr_sim, uid, {1}) == 200
        for digits in ("10", "2" + "0" * 15):
            status, _ = await get_text(
                session, nvr_sim, "hdrctl.cgi", ("UID", uid), ("PC", "AS60"), ("MASK", digits)
            )
            assert status == 400
        await playcmd(session, nvr_sim, uid, "GOTODATE", when)
        status, text = await get_text(session, nvr_sim, "camera.cgi", ("UID", uid), ("CAM", "2"))
        assert (status, "not in MASK" in text) == (400, True)
        status, text = await get_text(
            session, nvr_sim, "hdrctl.cgi", ("UID", uid), ("SCREEN", "16X"), ("PC", "AS60")
        )
        assert (status, "stop playback" in text) == (400, True)
        status, text = await get_text(
            session,
            nvr_sim,
            "push.cgi",
            ("UID", uid),
            ("CAM", "1"),
            ("CMD", "START"),
            ("COMP", "H264"),
            ("INTERNETMODE", "ON"),
        )
        assert status == 400
        assert await playcmd(session, nvr_sim, uid, "STOP", when) == (
            200,
            "<HTML>\r\nOK\r\n</HTML>\r\n",
        )
        status, text = await get_text(session, nvr_sim, "camera.cgi", ("UID", uid), ("CAM", "1"))
        assert (status, "not started" in text) == (400, True)
        for bad in (
            (("UID", uid), ("PC", "AS60"), ("PLAYCMD", "JUMP"), ("2ND", "OFF")),
            (("UID", uid), ("PC", "AS60"), ("PLAYCMD", "PLAY"), ("2ND", "ON")),
            (("UID", uid), ("PC", "AS60"), ("PLAYCMD", "PLAY"), ("2ND", "OFF"), ("NOTIME", "ON")),
            (
                ("UID", uid),
                ("PC", "AS60"),
                ("PLAYCMD", "GOTODATE"),
                ("2ND", "OFF"),
                ("TIMEF", "2401011200"),
                ("SDBACKUP", "0"),
                ("NOTIME", "ON"),
            ),
            (
                ("UID", uid),
                ("PC", "AS60"),
                ("PLAYCMD", "GOTODATE"),
                ("2ND", "OFF"),
                ("TIMEF", "24023012000000"),
                ("SDBACKUP", "0"),
                ("NOTIME", "ON"),
            ),
            (
                ("UID", uid),
                ("PC", "AS60"),
                ("PLAYCMD", "PAUSE"),
                ("2ND", "OFF"),
                ("TIMEF", timef(when)),
                ("NOTIME", "ON"),
            ),
            (("UID", uid), ("PC", "AS60")),
            (("UID", uid), ("SCREEN", "ALL"), ("PC", "AS60")),
        ):
            status, _ = await get_text(session, nvr_sim, "hdrctl.cgi", *bad)
            assert status == 400, bad
        status, _ = await get_text(
            session, nvr_sim, "hdrctl.cgi", ("UID", uid), ("HTML", "caindex.html")
        )
        assert status == 200


def audio_header(data: bytes) -> tuple[int, int, int, int, int, int]:
    marker, camera, size = struct.unpack(">HHI", data[:8])
    return marker, camera, size, *struct.unpack(">IxBBxI", data[8:20])  # type: ignore[return-value]


async def test_playback_audio_aac(nvr_sim: NvrSimulator) -> None:
    when = an_hour_ago()
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await mask(session, nvr_sim, uid, {2})
        await playcmd(session, nvr_sim, uid, "GOTODATE", when)
        blocks = []
        for _ in range(2):
            async with session.get(
                f"{nvr_sim.url}/cgi-bin/playaudio.cgi?UID={uid}&CAM=2"
            ) as response:
                assert response.headers["Content-Type"] == "application/octet-stream"
                blocks.append(await response.read())
    data = blocks[0]
    assert len(data) % 4096 == 0
    marker, camera, size = struct.unpack(">HHI", data[:8])
    assert (marker, camera) == (0xFF13, 2)
    assert data[8:12] == b"\xff\x12\x00\x3c"
    start, _, tz_hour, tz_minute, tz_info = struct.unpack(">IBBBB", data[12:20])
    (end,) = struct.unpack(">I", data[20:24])
    assert (start, end) == (when.timestamp(), when.timestamp() + 1)
    assert (tz_hour, tz_minute, tz_info) == (9, 0, 0)
    assert data[28:32] == b"\x00\x09\x00\x00"
    records = data[68 : 68 + size]
    assert data[68 + size :] == bytes(len(data) - 68 - size)
    frames = []
    pos = 0
    while pos < len(records):
        tag, length, padding, au_info = struct.unpack(">HHBB", records[pos : pos + 6])
        assert (tag, au_info, length % 4) == (0xFF14, 0, 0)
        body = records[pos + 8 : pos + length - padding]
        assert body[0] == 0
        frames.append(body[1:])
        pos += length
    assert 46 <= len(frames) <= 48
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = b"\x11\x88"
    decoded = [frame for payload in frames for frame in decoder.decode(av.Packet(payload))]
    assert len(decoded) >= 45
    assert struct.unpack(">I", blocks[1][12:16])[0] == start + 1


@pytest.mark.parametrize(
    ("codec", "code", "sizes"), [("G.711", 1, {8001}), ("G.726", 0, {3969, 4097})]
)
async def test_playback_audio_g7xx(codec: str, code: int, sizes: set[int]) -> None:
    config = SimulatorConfig(audio=codec, audio_cameras=frozenset({1}), **SMALL)  # type: ignore[arg-type]
    when = an_hour_ago()
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await mask(session, sim, uid, {1, 2})
        await playcmd(session, sim, uid, "BPLAY", when)
        first = (await get_bytes(session, sim, "playaudio.cgi", ("UID", uid), ("CAM", "1")))[1]
        second = (await get_bytes(session, sim, "playaudio.cgi", ("UID", uid), ("CAM", "1")))[1]
        status, text = await get_text(session, sim, "playaudio.cgi", ("UID", uid), ("CAM", "2"))
        assert (status, "no audio" in text) == (400, True)
    marker, camera, size = struct.unpack(">HHI", first[:8])
    assert (marker, camera) == (0xFF03, 1)
    assert size in sizes
    start, _, tz_hour, _, _ = struct.unpack(">IBBBB", first[8:16])
    assert start == when.timestamp()
    assert tz_hour == 9
    assert struct.unpack(">I", first[16:20])[0] == start + 1
    assert first[24:28] == b"\x00\x09\x00\x00"
    assert first[28] == code
    assert first[64] == 0
    assert first[65 + size - 1 :] == bytes(len(first) - 64 - size)
    assert struct.unpack(">I", second[8:12])[0] == start - 1
