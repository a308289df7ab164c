"""Live streams: RTP over HTTP multipart and UDP, JPEG and audio parts, and the spec's rules."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import contextlib
import io
import itertools
import struct
import time

import aiohttp
import av
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig

from .helpers import (
    Depacketizer,
    client_session,
    collect_parts,
    decode_video,
    get_text,
    login,
    parse_rtp,
    read_parts,
    setup_live,
    split_jpeg_part,
    url,
)

FAST = {"width": 160, "height": 120, "realtime": False, "live_start_on_idr": True}


@contextlib.asynccontextmanager
async def live(
    session: aiohttp.ClientSession, sim: NvrSimulator, uid: str, camera: int, comp: str
) -> AsyncIterator[aiohttp.ClientResponse]:
    params = (
        ("UID", uid),
        ("CAM", str(camera)),
        ("CMD", "START"),
        ("COMP", comp),
        ("INTERNETMODE", "ON"),
    )
    async with session.get(url(sim, "push.cgi", params)) as response:
        yield response


async def push(
    session: aiohttp.ClientSession,
    sim: NvrSimulator,
    uid: str,
    camera: int,
    comp: str,
    *,
    command: str = "START",
    port: int | None = None,
) -> tuple[int, str]:
    last = ("PORT", str(port)) if port is not None else ("INTERNETMODE", "ON")
    params = (("UID", uid), ("CAM", str(camera)), ("CMD", command), ("COMP", comp), last)
    return await get_text(session, sim, "push.cgi", *params)


@pytest.mark.parametrize(
    ("codec", "payload_type", "decoder"), [("H264", 98, "h264"), ("H265", 101, "hevc")]
)
async def test_video_over_http_is_one_rtp_packet_a_part(
    codec: str, payload_type: int, decoder: str
) -> None:
    config = SimulatorConfig(camera_codecs={2: codec}, rtp_mtu=400, **FAST)  # type: ignore[dict-item]
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 2, codec) as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == (
                "multipart/x-mixed-replace; boundary=myboundary"
            )
            parts = await collect_parts(response, 120)
    packets = [parse_rtp(part.body) for part in parts]
    assert {part.headers["content-type"] for part in parts} == {"application/octet-stream"}
    assert all(p.version == 2 and p.payload_type == payload_type for p in packets)
    assert all((b.sequence - a.sequence) % 65536 == 1 for a, b in itertools.pairwise(packets))
    assert len({p.ssrc for p in packets}) == 1
    first = packets[0]
    assert set(first.tlvs) == {0x0004, 0x0007, 0x000A}
    assert first.tlvs[0x0004] == b"\x00\x02\x00\x00"
    seconds, direction, hours, minutes, summer = struct.unpack(">IBBBB", first.tlvs[0x0007])
    (hundredths,) = struct.unpack(">H", first.tlvs[0x000A][:2])
    assert (direction, hours, minutes, summer) == (0, 9, 0, 0)
    capture = seconds + hundredths / 100
    assert abs(first.timestamp - round(capture * 90000) % 2**32) <= 900
    assert abs(capture - time.time()) < 5
    depacketizer = Depacketizer(h265=codec == "H265")
    units = [unit for p in packets if (unit := depacketizer.push(p)) is not None]
    assert depacketizer.kinds == {"single", "aggregate", "fragment"}
    frames = decode_video(decoder, units)
    assert len(frames) >= 5
    assert (frames[0].width, frames[0].height) == (160, 120)
    stamps = [p.timestamp for p in packets if p.marker]
    assert {b - a for a, b in itertools.pairwise(stamps)} == {9000}


@pytest.mark.parametrize(
    ("mode", "first", "others"), [("first", True, False), ("none", False, False)]
)
async def test_extension_modes_and_no_aggregation(mode: str, first: bool, others: bool) -> None:
    config = SimulatorConfig(rtp_extension=mode, rtp_aggregate=False, **FAST)  # type: ignore[arg-type]
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264") as response:
            parts = await collect_parts(response, 30)
    packets = [parse_rtp(part.body) for part in parts]
    starts = [0] + [n + 1 for n, p in enumerate(packets[:-1]) if p.marker]
    assert all(bool(packets[n].tlvs) == first for n in starts)
    assert all(not p.tlvs for n, p in enumerate(packets) if n not in starts) or others
    depacketizer = Depacketizer(h265=False)
    for packet in packets:
        depacketizer.push(packet)
    assert "aggregate" not in depacketizer.kinds


async def test_realtime_pacing_and_latency() -> None:
    config = SimulatorConfig(width=160, height=120, fps=25)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264") as response:
            started = time.monotonic()
            latencies = []
            pictures = 0
            async for part in read_parts(response):
                packet = parse_rtp(part.body)
                if packet.tlvs:
                    seconds = struct.unpack(">I", packet.tlvs[0x0007][:4])[0]
                    hundredths = struct.unpack(">H", packet.tlvs[0x000A][:2])[0]
                    latencies.append(time.time() - (seconds + hundredths / 100))
                pictures += packet.marker
                if pictures == 13:
                    break
            elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 1.0
    assert max(latencies) < 0.15
    assert min(latencies) > -0.02


async def test_speed_runs_the_clock_faster() -> None:
    config = SimulatorConfig(width=160, height=120, fps=10, speed=10.0)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264") as response:
            started = time.monotonic()
            pictures = 0
            async for part in read_parts(response):
                pictures += parse_rtp(part.body).marker
                if pictures == 20:
                    break
            assert time.monotonic() - started < 0.5


async def test_jpeg_parts_carry_info_chunks_then_the_jpeg() -> None:
    async with NvrSimulator(SimulatorConfig(**FAST)) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "JPEG") as response:
            parts = await collect_parts(response, 3)
    assert parts[0].headers["content-type"] == "image/jpeg"
    chunks, jpeg = split_jpeg_part(parts[0].body)
    assert [set(chunk) for chunk in chunks] == [{0x0004, 0x0007, 0x000A}, {0x0011, 0x0012}]
    assert chunks[0][0x0004] == b"\x00\x01\x00\x00"
    assert jpeg_size(jpeg) == (160, 120)


async def test_jpeg_without_camera_info_and_com_marker() -> None:
    config = SimulatorConfig(camera_info=False, jpeg_info_marker=0xFFFE, **FAST)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "JPEG") as response:
            (part,) = await collect_parts(response, 1)
    chunks, jpeg = split_jpeg_part(part.body, marker=b"\xff\xfe")
    assert [set(chunk) for chunk in chunks] == [{0x0004, 0x0007, 0x000A}]
    assert jpeg_size(jpeg) == (160, 120)


def jpeg_size(data: bytes) -> tuple[int, int]:
    with av.open(io.BytesIO(data), format="mjpeg") as container:
        frame = next(container.decode(video=0))
    return frame.width, frame.height


async def test_camera_without_jpeg_stream_sends_the_placeholder(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await setup_live(session, nvr_sim, uid)
        async with live(session, nvr_sim, uid, 2, "JPEG") as response:
            assert response.status == 200
            (part,) = await collect_parts(response, 1)
    chunks, jpeg = split_jpeg_part(part.body)
    assert len(chunks) == 2
    assert jpeg_size(jpeg) == (39, 37)


async def test_placeholder_single_image() -> None:
    async with NvrSimulator(SimulatorConfig(placeholder_single=True)) as sim:
        async with client_session(sim) as session:
            uid = await login(session, sim)
            await setup_live(session, sim, uid)
            async with live(session, sim, uid, 2, "JPEG") as response:
                assert response.headers["Content-type"] == "image/jpeg"
                assert jpeg_size(await response.read()) == (39, 37)
        assert sim.active_streams() == []


@pytest.mark.parametrize(
    ("codec", "content_type", "size"),
    [
        ("AAC-LC", "audio/48kaac-lc", None),
        ("G.726", "audio/g.726-32k", 129),
        ("G.711", "audio/g.711", 161),
    ],
)
async def test_audio_parts(codec: str, content_type: str, size: int | None) -> None:
    config = SimulatorConfig(audio=codec, **FAST)  # type: ignore[arg-type]
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264"), live(session, sim, uid, 1, "AUDIO") as audio:
            parts = await collect_parts(audio, 20)
    assert {part.headers["content-type"] for part in parts} == {content_type}
    assert all(part.body[0] == 0 for part in parts)
    if size is not None:
        assert {len(part.body) for part in parts} == {size}
        return
    decoder = av.CodecContext.create("aac", "r")
    decoder.extradata = b"\x11\x88"
    frames = []
    for part in parts:
        frames += decoder.decode(av.Packet(part.body[1:]))
    assert len(frames) >= 15
    assert frames[0].sample_rate == 48000


async def test_stream_rules(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        status, text = await push(session, nvr_sim, uid, 1, "H264")
        assert (status, "SCREEN=16X" in text) == (400, True)
        await setup_live(session, nvr_sim, uid)
        status, text = await push(session, nvr_sim, uid, 1, "AUDIO")
        assert (status, "video before audio" in text) == (400, True)
        async with live(session, nvr_sim, uid, 1, "H264") as first:
            assert first.status == 200
            await collect_parts(first, 1)
            for camera, comp, reason in (
                (1, "H264", "already streams"),
                (1, "JPEG", "already streams"),
                (5, "H264", "not registered"),
                (99, "H264", "outside"),
            ):
                status, text = await push(session, nvr_sim, uid, camera, comp)
                assert status == 400
                assert reason in text
            status, text = await get_text(
                session, nvr_sim, "hdrctl.cgi", ("UID", uid), ("PC", "AS60"), ("MASK", "1" * 16)
            )
            assert status == 200
            status, text = await get_text(
                session,
                nvr_sim,
                "hdrctl.cgi",
                ("UID", uid),
                ("PC", "AS60"),
                ("PLAYCMD", "PLAY"),
                ("2ND", "OFF"),
                ("TIMEF", "AS60_UNKNOWN"),
                ("NOTIME", "ON"),
            )
            assert (status, "stop live" in text) == (400, True)
        for params in (
            (("UID", uid), ("CAM", "1"), ("CMD", "GO"), ("COMP", "H264"), ("INTERNETMODE", "ON")),
            (
                ("UID", uid),
                ("CAM", "1"),
                ("CMD", "START"),
                ("COMP", "MPEG"),
                ("INTERNETMODE", "ON"),
            ),
            (("UID", uid), ("CAM", "1"), ("CMD", "START"), ("COMP", "H264")),
            (("UID", uid), ("CAM", "1"), ("CMD", "START"), ("COMP", "H264"), ("PORT", "0")),
            (
                ("UID", uid),
                ("CAM", "x"),
                ("CMD", "START"),
                ("COMP", "H264"),
                ("INTERNETMODE", "ON"),
            ),
        ):
            status, _ = await get_text(session, nvr_sim, "push.cgi", *params)
            assert status == 400


async def test_without_setup_live_and_boundary_parameter() -> None:
    config = SimulatorConfig(require_setup_live=False, boundary_in_header=False, **FAST)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        async with live(session, sim, uid, 1, "H264") as response:
            assert response.headers["Content-Type"] == "multipart/x-mixed-replace"
            await collect_parts(response, 1)
            async with live(session, sim, uid, 1, "AUDIO") as audio:
                await collect_parts(audio, 1)
                status, text = await push(session, sim, uid, 1, "AUDIO")
                assert (status, "audio of camera 1 already" in text) == (400, True)
        other = await login(session, sim)
        digits = ("MASK", "1" + "0" * 15)
        await get_text(session, sim, "hdrctl.cgi", ("UID", other), ("PC", "AS60"), digits)
        await get_text(
            session,
            sim,
            "hdrctl.cgi",
            ("UID", other),
            ("PC", "AS60"),
            ("PLAYCMD", "PLAY"),
            ("2ND", "OFF"),
            ("TIMEF", "AS60_UNKNOWN"),
            ("NOTIME", "ON"),
        )
        status, text = await push(session, sim, other, 1, "H264")
        assert (status, "cannot share a UID" in text) == (400, True)


async def test_stream_limit_per_uid() -> None:
    config = SimulatorConfig(max_streams_per_uid=2, **FAST)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264"), live(session, sim, uid, 2, "H264"):
            status, text = await push(session, sim, uid, 3, "H264")
            assert (status, "too many" in text) == (400, True)
            other = await login(session, sim)
            await setup_live(session, sim, other)
            async with live(session, sim, other, 1, "H264") as response:
                assert response.status == 200


async def test_camera_states_and_codecs() -> None:
    config = SimulatorConfig(
        camera_status={3: 2},
        camera_codecs={2: "H265", 4: "JPEG"},
        audio_cameras=frozenset({1}),
        **FAST,
    )
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        status, text = await push(session, sim, uid, 3, "H264")
        assert (status, "connection error" in text) == (400, True)
        status, text = await push(session, sim, uid, 4, "H264")
        assert (status, "no H264 stream" in text) == (400, True)
        status, text = await push(session, sim, uid, 1, "JPEG", port=5000)
        assert status == 400
        async with live(session, sim, uid, 2, "H264") as response:
            (part,) = await collect_parts(response, 1)
            assert parse_rtp(part.body).payload_type == 101
            status, text = await push(session, sim, uid, 2, "AUDIO")
            assert (status, "no audio" in text) == (400, True)
        async with live(session, sim, uid, 4, "JPEG") as response:
            (part,) = await collect_parts(response, 1)
            assert part.headers["content-type"] == "image/jpeg"
    strict = SimulatorConfig(strict_codec=True, **FAST)
    async with NvrSimulator(strict) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        status, text = await push(session, sim, uid, 1, "H265")
        assert (status, "streams H264, not H265" in text) == (400, True)


async def test_stop_ends_video_and_audio(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await setup_live(session, nvr_sim, uid)
        async with (
            live(session, nvr_sim, uid, 1, "H264") as video,
            live(session, nvr_sim, uid, 1, "AUDIO") as audio,
        ):
            await collect_parts(video, 1)
            await collect_parts(audio, 1)
            assert len(nvr_sim.active_streams()) == 2
            status, text = await push(session, nvr_sim, uid, 1, "H264", command="STOP")
            assert (status, text) == (200, "<HTML>\r\nOK\r\n</HTML>\r\n")
            async with asyncio.timeout(2):
                assert len([p async for p in read_parts(video)]) < 30
                assert len([p async for p in read_parts(audio)]) < 100
        assert nvr_sim.active_streams() == []
        status, _ = await push(session, nvr_sim, uid, 1, "AUDIO", command="STOP")
        assert status == 200


async def test_lost_uid_and_hang_up_end_streams() -> None:
    config = SimulatorConfig(uid_lifetime=0.5)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264") as response:
            await collect_parts(response, 1)
            started = time.monotonic()
            async with asyncio.timeout(3):
                async for _ in read_parts(response):
                    pass
            assert 0.2 < time.monotonic() - started < 2.0
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264") as response:
            await collect_parts(response, 1)
        for _ in range(50):
            if not sim.active_streams():
                break
            await asyncio.sleep(0.05)
        assert sim.active_streams() == []


class Receiver(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.put_nowait(data)


@pytest.mark.parametrize("audio", ["AAC-LC", "G.711"])
async def test_rtp_over_udp(audio: str) -> None:
    config = SimulatorConfig(audio=audio, **FAST)  # type: ignore[arg-type]
    loop = asyncio.get_running_loop()
    video_transport, video = await loop.create_datagram_endpoint(
        Receiver, local_addr=("127.0.0.1", 0)
    )
    audio_transport, sound = await loop.create_datagram_endpoint(
        Receiver, local_addr=("127.0.0.1", 0)
    )
    try:
        async with NvrSimulator(config) as sim, client_session(sim) as session:
            uid = await login(session, sim)
            await setup_live(session, sim, uid)
            video_port = video_transport.get_extra_info("sockname")[1]
            audio_port = audio_transport.get_extra_info("sockname")[1]
            assert (await push(session, sim, uid, 1, "H264", port=video_port))[0] == 200
            assert (await push(session, sim, uid, 1, "AUDIO", port=audio_port))[0] == 200
            async with asyncio.timeout(5):
                packets = [parse_rtp(await video.packets.get()) for _ in range(40)]
                sounds = [parse_rtp(await sound.packets.get()) for _ in range(5)]
            await push(session, sim, uid, 1, "H264", command="STOP")
            for _ in range(50):
                if not sim.active_streams():
                    break
                await asyncio.sleep(0.05)
            assert sim.active_streams() == []
    finally:
        video_transport.close()
        audio_transport.close()
    assert {p.payload_type for p in packets} == {98}
    depacketizer = Depacketizer(h265=False)
    units = [unit for p in packets if (unit := depacketizer.push(p)) is not None]
    assert len(decode_video("h264", units)) >= 2
    assert {p.payload_type for p in sounds} == {97}
    assert all(set(p.tlvs) == {0x0011, 0x0012} and p.marker for p in sounds)
    if audio == "AAC-LC":
        header_bits, size = struct.unpack(">HH", sounds[0].payload[:4])
        assert header_bits == 16
        assert size >> 3 == len(sounds[0].payload) - 4
        assert (sounds[1].timestamp - sounds[0].timestamp) % 2**32 == 1024
    else:
        assert len(sounds[0].payload) == 160
        assert (sounds[1].timestamp - sounds[0].timestamp) % 2**32 == 160


async def test_camera_status_changes_at_run_time(nvr_sim: NvrSimulator) -> None:
    nvr_sim.clear_logs()
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await setup_live(session, nvr_sim, uid)
        async with live(session, nvr_sim, uid, 1, "H264") as response:
            await collect_parts(response, 1)
            nvr_sim.set_camera_status(1, 2)
            async with asyncio.timeout(2):
                _ = [part async for part in read_parts(response)]
        _, info = await get_text(session, nvr_sim, "as_getinfo.cgi", ("FILE", "2"))
        assert "CAM_CONNECT_01CH=2" in info
        status, text = await push(session, nvr_sim, uid, 1, "H264")
        assert (status, "connection error" in text) == (400, True)
        nvr_sim.set_camera_status(1, 1)
        nvr_sim.set_camera_status(2, 0)
        nvr_sim.set_camera_status(2, 2, log=False)
        _, info = await get_text(session, nvr_sim, "as_getinfo.cgi", ("FILE", "2"))
        assert "CAM_CONNECT_01CH=1" in info
        assert "CAM_CONNECT_02CH=2" in info
    kinds = [entry.kind for entry in nvr_sim.error_log.entries]
    assert kinds == ["CAM 1 COMMUNICATION RECOVERED", "CAM 1 COMMUNICATION ERROR"]
    with pytest.raises(ValueError, match="outside"):
        nvr_sim.set_camera_status(17, 1)
    with pytest.raises(ValueError, match="0, 1 or 2"):
        nvr_sim.set_camera_status(1, 5)


async def test_annexb_payload_knob_and_stop_without_internetmode() -> None:
    config = SimulatorConfig(rtp_annexb=True, **FAST)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        async with live(session, sim, uid, 1, "H264") as response:
            parts = await collect_parts(response, 12)
            stop = (("UID", uid), ("CAM", "1"), ("CMD", "STOP"), ("COMP", "H264"))
            assert (await get_text(session, sim, "push.cgi", *stop))[0] == 200
    payloads = [parse_rtp(part.body).payload for part in parts]
    assert all(payload.startswith(b"\x00\x00\x00\x01") for payload in payloads)
    assert payloads[0][4] & 0x1F == 9
