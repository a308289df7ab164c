"""Live streams from the simulator: H.264/H.265 decode, JPEG, audio, RTP/UDP, STOP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import cast

import av
import pytest

from custom_components.ipro_nvr.aioipro import (
    AccessUnit,
    AudioCodec,
    AudioFrame,
    IproBusyError,
    IproConnectionError,
    JpegFrame,
    VideoCodec,
)
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.muxer import aac_channels, adts_frame
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import ClientMaker, queries, requests_to


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
