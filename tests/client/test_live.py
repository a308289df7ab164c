"""Live streams from the simulator: H.264/H.265 decode, JPEG, audio, RTP/UDP, STOP.

The client depacketizes by payload type, so a camera sending another codec than asked is
followed (tests at the end).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
import socket
from typing import cast

import av
import pytest

from custom_components.ipro_nvr.aioipro import (
    AccessUnit,
    AudioCodec,
    AudioFrame,
    IproBusyError,
    IproConnectionError,
    IproProtocolError,
    IproSessionLostError,
    JpegFrame,
    VideoCodec,
    parse_rtp,
)
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.live import DropBuffer, PayloadTypeDepacketizer
from custom_components.ipro_nvr.aioipro.muxer import aac_channels, adts_frame
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import ClientMaker, queries, requests_to
from .parser_builders import START_CODE, RtpStream, rtp


async def take[T](stream: AsyncIterator[T], count: int) -> list[T]:
    items: list[T] = []
    async for item in stream:
        items.append(item)
        if len(items) == count:
            break
    return items


def decode(codec: VideoCodec, units: list[AccessUnit]) -> list[av.VideoFrame]:
    context = av.CodecContext.create("h264" if codec is VideoCodec.H264 else "hevc", "r")
    frames: list[av.VideoFrame] = []
    for unit in units:
        frames.extend(context.decode(av.Packet(unit.data)))
    frames.extend(context.decode(None))
    return frames


@pytest.mark.parametrize(
    ("sim_config", "codec"),
    [
        (SimulatorConfig(default_codec="H264"), VideoCodec.H264),
        (SimulatorConfig(default_codec="H265"), VideoCodec.H265),
    ],
    ids=["h264", "h265"],
)
async def test_live_video_decodes(
    client: IproClient, nvr_sim: NvrSimulator, codec: VideoCodec
) -> None:
    async with client.live_video(1, codec) as stream:
        units = await take(stream, 12)
        assert len(nvr_sim.active_streams()) == 1
    assert all(isinstance(u, AccessUnit) and u.codec is codec for u in units)
    assert cast(AccessUnit, units[0]).keyframe
    frames = decode(codec, cast(list[AccessUnit], units))
    assert len(frames) >= 10
    assert (frames[0].width, frames[0].height) == (320, 240)
    # START and STOP in the spec's order, after the live setup on the same UID.
    assert not nvr_sim.active_streams()
    setup, start, stop = (
        queries(nvr_sim, "hdrctl.cgi")[0],
        *queries(nvr_sim, "push.cgi"),
    )
    uid = setup[0][1]
    assert setup == [("UID", uid), ("SCREEN", "16X"), ("PC", "AS60")]
    common = [("UID", uid), ("CAM", "1")]
    assert start == [*common, ("CMD", "START"), ("COMP", codec.value), ("INTERNETMODE", "ON")]
    assert stop == [*common, ("CMD", "STOP"), ("COMP", codec.value), ("INTERNETMODE", "ON")]


async def test_live_video_with_audio(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with client.live_video(1, VideoCodec.H264, audio=True) as stream:
        items = await take(stream, 40)
    audio = [i for i in items if isinstance(i, AudioFrame)]
    video = [i for i in items if isinstance(i, AccessUnit)]
    assert audio
    assert video
    assert all(a.codec is AudioCodec.AAC_LC and a.data for a in audio)
    comps = [dict(q)["COMP"] + dict(q)["CMD"] for q in queries(nvr_sim, "push.cgi")]
    assert comps == ["H264START", "AUDIOSTART", "AUDIOSTOP", "H264STOP"]
    context = av.CodecContext.create("aac", "r")
    decoded = [
        frame
        for a in audio
        for frame in context.decode(av.Packet(adts_frame(a.data, aac_channels(a.data) or 1)))
    ]
    assert decoded


async def test_live_jpeg(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with client.live_jpeg(1) as frames:
        pictures = await take(frames, 2)
    assert all(isinstance(p, JpegFrame) for p in pictures)
    assert pictures[0].recorder.camera == 1
    decoded = list(av.CodecContext.create("mjpeg", "r").decode(av.Packet(pictures[0].jpeg)))
    assert decoded[0].width == 320
    assert dict(queries(nvr_sim, "push.cgi")[0])["COMP"] == "JPEG"


async def test_live_rtp_over_udp(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with client.live_rtp(1, VideoCodec.H264, 0, bind_host="127.0.0.1") as stream:
        units = await take(stream, 8)
        port = stream.port
    assert port > 0
    assert units[0].keyframe
    assert len(decode(VideoCodec.H264, units)) >= 6
    start, stop = queries(nvr_sim, "push.cgi")
    assert start[1:] == [("CAM", "1"), ("CMD", "START"), ("COMP", "H264"), ("PORT", str(port))]
    assert stop[1:] == [("CAM", "1"), ("CMD", "STOP"), ("COMP", "H264"), ("PORT", str(port))]


async def test_several_cameras_share_one_live_uid(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.live_video(1) as one, client.live_video(2) as two:
        await take(one, 2)
        await take(two, 2)
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1
    assert len({r.uid for r in requests_to(nvr_sim, "push.cgi")}) == 1


async def test_same_camera_twice_is_refused(client: IproClient) -> None:
    async with client.live_video(1):
        with pytest.raises(IproBusyError, match="already streams"):
            async with client.live_jpeg(1):
                pass
    # The slot is free again after the first stream ended.
    async with client.live_jpeg(1) as frames:
        assert await take(frames, 1)


async def test_push_refused_with_204(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.push_start_204 = True
    with pytest.raises(IproBusyError, match="204"):
        async with client.live_video(1):
            pass
    nvr_sim.faults.push_start_204 = False
    async with client.live_video(1) as stream:
        assert await take(stream, 1)


async def test_broken_stream_raises(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.drop_after_parts = 8
    with pytest.raises(IproConnectionError, match="camera 1"):
        async with client.live_video(1) as stream:
            await take(stream, 1000)


async def test_live_uid_lost_before_start(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with client.live_jpeg(1) as frames:
        await take(frames, 1)
    nvr_sim.invalidate_uids()
    async with client.live_jpeg(1) as frames:
        await take(frames, 1)
    # Log in again and set up live again before START.
    assert len(queries(nvr_sim, "dlogin.cgi")) == 2
    assert len(queries(nvr_sim, "hdrctl.cgi")) == 2


def pushes_on(sim: NvrSimulator, uid: str | None) -> list[str]:
    """Return the CMD of every push.cgi request that carried ``uid``, in order."""
    return [dict(r.query)["CMD"] for r in requests_to(sim, "push.cgi") if r.uid == uid]


async def test_a_stop_that_finds_the_uid_lost_spares_the_next_start(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.live_video(1) as stream:
        await take(stream, 1)
        old_uid = requests_to(nvr_sim, "push.cgi")[0].uid
        nvr_sim.invalidate_uids()  # another client's logins: the stream ends with its UID
    async with client.live_video(1) as stream:
        await take(stream, 1)
    # The STOP's login page told the session: the next START came after a login, not
    # with the dead UID first (a 3 s slot each at the real pacing).
    assert pushes_on(nvr_sim, old_uid) == ["START", "STOP"]
    assert len(queries(nvr_sim, "dlogin.cgi")) == 2
    assert pushes_on(nvr_sim, requests_to(nvr_sim, "push.cgi")[-1].uid) == ["START", "STOP"]


async def test_a_stop_refused_with_an_http_error_keeps_the_uid(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.live_video(1) as stream:
        await take(stream, 1)
        nvr_sim.faults.fail_next(1, 500)
    async with client.live_video(2) as stream:
        await take(stream, 1)
    # An error status alone is no sign of a lost UID: the next stream starts on it.
    uid = requests_to(nvr_sim, "push.cgi")[0].uid
    assert [r.status for r in requests_to(nvr_sim, "push.cgi")] == [200, 500, 200, 200]
    assert pushes_on(nvr_sim, uid) == ["START", "STOP", "START", "STOP"]
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1


@pytest.mark.parametrize("sim_config", [SimulatorConfig(realtime=False)], ids=["flood"])
async def test_slow_consumer_drops_to_the_next_keyframe(client: IproClient) -> None:
    async with client.live_video(1) as stream:
        first = await anext(stream)
        await asyncio.sleep(0.5)
        after = [await anext(stream) for _ in range(3)]
        assert stream.dropped > 0
        assert len(stream._buffer) <= 64
    assert cast(AccessUnit, first).keyframe
    assert any(cast(AccessUnit, unit).keyframe for unit in after)


async def test_close_ends_open_streams(make_client: ClientMaker, nvr_sim: NvrSimulator) -> None:
    client = make_client()
    async with client.live_video(1) as stream:
        await take(stream, 1)
        await client.close()
        # What was queued drains, then the stream ends instead of waiting forever.
        assert len(await take(stream, 1000)) < 1000
    # close() logs the live UID out (which ends its streams) rather than STOP each one.
    assert [dict(q)["CMD"] for q in queries(nvr_sim, "push.cgi")] == ["START"]
    assert len(requests_to(nvr_sim, "logout.cgi")) == 1
    assert nvr_sim.sessions.count == 0


async def test_live_setup_refused(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.fail_path("hdrctl.cgi", 500)
    with pytest.raises(IproSessionLostError, match="live session right after login"):
        async with client.live_video(1):
            pass
    # The camera slot is free again.
    nvr_sim.faults.reset()
    async with client.live_video(1) as stream:
        assert await take(stream, 1)


async def test_stop_failure_does_not_mask_the_exit(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.live_jpeg(1) as frames:
        await take(frames, 1)
        nvr_sim.faults.reject_credentials = True
    pushes = [(dict(r.query)["CMD"], r.status) for r in nvr_sim.requests if r.cgi == "push.cgi"]
    assert pushes[0] == ("START", 200)
    assert pushes[-1] == ("STOP", 401)
    nvr_sim.faults.reset()


async def test_malformed_stream_ends_with_the_error(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.huge_content_length = True
    with pytest.raises(IproProtocolError, match="over the limit"):
        async with client.live_video(1) as stream:
            await take(stream, 10)


async def test_rtp_port_in_use(client: IproClient, nvr_sim: NvrSimulator) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        with pytest.raises(IproConnectionError, match=f"UDP port {port}"):
            async with client.live_rtp(1, VideoCodec.H264, port, bind_host="127.0.0.1"):
                pass
    assert requests_to(nvr_sim, "push.cgi") == []


async def test_rtp_ignores_stray_datagrams(client: IproClient) -> None:
    async with client.live_rtp(1, VideoCodec.H264, 0, bind_host="127.0.0.1") as stream:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"not rtp", ("127.0.0.1", stream.port))
            audio = bytes([0x80, 97, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]) + b"aac"
            sender.sendto(audio, ("127.0.0.1", stream.port))
        units = await take(stream, 3)
        assert stream.skipped_parts >= 1
    assert all(isinstance(u, AccessUnit) for u in units)


def test_codec_checks(client: IproClient) -> None:
    with pytest.raises(ValueError, match="live_jpeg"):
        client.live_video(1, VideoCodec.JPEG)
    with pytest.raises(ValueError, match="RTP"):
        client.live_rtp(1, VideoCodec.JPEG)


async def test_drop_buffer_policy() -> None:
    with pytest.raises(ValueError):
        DropBuffer[int](0, start_at_keyframe=False)
    buffer = DropBuffer[int](2, start_at_keyframe=True)
    buffer.put(1, keyframe=False)  # before the first keyframe: dropped
    buffer.put(2, keyframe=True)
    buffer.put(3, keyframe=False)
    buffer.put(4, keyframe=False)  # full: drop all, wait for a keyframe
    buffer.put(5, keyframe=False)
    buffer.put(6, keyframe=True)
    buffer.put(7, keyframe=True)
    buffer.put(8, keyframe=True)  # full, but a keyframe: it starts the new queue
    assert buffer.dropped == 1 + 2 + 2 + 2
    assert len(buffer) == 1
    buffer.end(IproConnectionError("gone"))
    buffer.put(9, keyframe=True)  # after the end: ignored
    assert await buffer.get() == 8
    with pytest.raises(IproConnectionError):
        await buffer.get()


class Stub:
    aborted = False

    def abort(self) -> None:
        self.aborted = True


async def test_more_than_sixteen_streams_refused(client: IproClient) -> None:
    hub = client._live
    stubs = [Stub() for _ in range(16)]
    for camera, stub in enumerate(stubs, 1):
        hub.register(camera, stub)
    assert len(hub) == 16
    with pytest.raises(IproBusyError, match="16 live streams"):
        hub.register(17, Stub())
    hub.abort_all()
    assert len(hub) == 0
    assert all(stub.aborted for stub in stubs)


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(audio_cameras=frozenset({2}))], ids=["cam1-mute"]
)
async def test_audio_refused_video_goes_on(client: IproClient, nvr_sim: NvrSimulator) -> None:
    async with client.live_video(1, audio=True) as stream:
        items = await take(stream, 5)
        assert stream.audio is False
    assert all(isinstance(i, AccessUnit) for i in items)
    # Only the video is stopped; the live UID was not replaced.
    assert [dict(q)["COMP"] + dict(q)["CMD"] for q in queries(nvr_sim, "push.cgi")] == [
        "H264START",
        "AUDIOSTART",
        "H264STOP",
    ]
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1


# The codec the NVR sends, whatever was asked: payload type 98 is H.264, 101 H.265.

H265_CAMERA = SimulatorConfig(camera_codecs={1: "H265"})
H264_KEYFRAME = (b"\x67\x64\x00\x0a\xac", b"\x68\xee\x3c\x80", b"\x65\x88" + bytes(50))
H264_P_SLICE = b"\x41\x9a" + bytes(30)
H265_KEYFRAME = (b"\x40\x01\x0c\x01", b"\x26\x01\xaf" + bytes(40))
H265_TRAIL = b"\x02\x01\xd0" + bytes(20)


def depacketize(depacketizer: PayloadTypeDepacketizer, packets: list[bytes]) -> list[AccessUnit]:
    return [unit for packet in packets for unit in depacketizer.push(parse_rtp(packet))]


@pytest.mark.parametrize("sim_config", [H265_CAMERA], ids=["h265-camera"])
async def test_h265_camera_asked_for_h264_streams_h265(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.live_video(1, VideoCodec.H264) as stream, asyncio.timeout(10):
        items = await take(stream, 12)
    units = [item for item in items if isinstance(item, AccessUnit)]
    assert len(units) == 12
    assert {unit.codec for unit in units} == {VideoCodec.H265}
    assert units[0].keyframe
    frames = decode(VideoCodec.H265, units)
    assert len(frames) >= 10
    assert (frames[0].width, frames[0].height) == (320, 240)
    assert [dict(query)["COMP"] for query in queries(nvr_sim, "push.cgi")] == ["H264", "H264"]


@pytest.mark.parametrize("sim_config", [H265_CAMERA], ids=["h265-camera"])
async def test_h265_camera_asked_for_h264_over_rtp(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with (
        client.live_rtp(1, VideoCodec.H264, 0, bind_host="127.0.0.1") as stream,
        asyncio.timeout(10),
    ):
        units = await take(stream, 8)
    assert {unit.codec for unit in units} == {VideoCodec.H265}
    assert units[0].keyframe
    assert len(decode(VideoCodec.H265, units)) >= 6
    assert dict(queries(nvr_sim, "push.cgi")[0])["COMP"] == "H264"


def test_a_codec_change_waits_for_a_keyframe_of_the_new_codec() -> None:
    stream = RtpStream(payload_type=98)
    packets = stream.access_unit(H264_KEYFRAME) + stream.access_unit([H264_P_SLICE])
    # Audio, on its own sequence numbers, is not video and does not disturb it.
    packets.append(rtp(b"\x00\x10\x01\x00" + bytes(8), sequence=7, payload_type=97))
    stream.payload_type = 101
    packets += stream.access_unit([H265_TRAIL])  # undecodable without what came before
    packets += stream.access_unit(H265_KEYFRAME) + stream.access_unit([H265_TRAIL])
    units = depacketize(PayloadTypeDepacketizer(VideoCodec.H264), packets)
    assert [(unit.codec, unit.keyframe) for unit in units] == [
        (VideoCodec.H264, True),
        (VideoCodec.H264, False),
        (VideoCodec.H265, True),
        (VideoCodec.H265, False),
    ]
    assert units[2].data == b"".join(START_CODE + nal for nal in H265_KEYFRAME)


def test_an_unknown_payload_type_is_the_codec_asked_for() -> None:
    stream = RtpStream(payload_type=96)
    packets = stream.access_unit(H265_KEYFRAME) + stream.access_unit([H265_TRAIL])
    units = depacketize(PayloadTypeDepacketizer(VideoCodec.H265), packets)
    assert [(unit.codec, unit.keyframe) for unit in units] == [
        (VideoCodec.H265, True),
        (VideoCodec.H265, False),
    ]
