"""Playback GOPs remuxed to fragmented MP4, against the simulator, decoded with PyAV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
import io

import av
import pytest

from custom_components.ipro_nvr.aioipro import IproCodecError, IproProtocolError, VideoCodec
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.models import PlaybackGop, PlaybackPicture, RecorderInfo
from custom_components.ipro_nvr.aioipro.playback_stream import (
    Fmp4Muxer,
    _GopRemuxer,
    picture_size,
    playback_mp4,
)
from ipro_sim import NvrSimulator, SimulatorConfig
from ipro_sim.media import ClipKey, MediaLibrary

from .conftest import queries, requests_to


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Camera 2 records H.265, camera 3 JPEG."""
    return SimulatorConfig(camera_codecs={2: "H265", 3: "JPEG"})


def top_level_boxes(data: bytes) -> list[str]:
    """Return the types of the top-level ISO BMFF boxes in ``data``."""
    boxes = []
    offset = 0
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset : offset + 4])
        boxes.append(data[offset + 4 : offset + 8].decode())
        offset += size
    return boxes


def decode(data: bytes) -> list[av.VideoFrame]:
    """Decode every picture of an MP4."""
    with av.open(io.BytesIO(data)) as container:
        return list(container.decode(video=0))


async def collect(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


def whole_second(seconds_ago: float) -> datetime:
    return (datetime.now(UTC) - timedelta(seconds=seconds_ago)).replace(microsecond=0)


@pytest.mark.parametrize(("camera", "codec"), [(1, "h264"), (2, "hevc")])
async def test_three_seconds_decode(
    client: IproClient, nvr_sim: NvrSimulator, camera: int, codec: str
) -> None:
    start = whole_second(7200)
    async with playback_mp4(client, camera, start, start + timedelta(seconds=3)) as stream:
        data = await collect(aiter(stream))
        assert stream.gops == 3
        assert stream.size == (nvr_sim.config.width, nvr_sim.config.height)

    boxes = top_level_boxes(data)
    assert boxes[:2] == ["ftyp", "moov"]
    assert boxes.count("moof") == 3
    frames = decode(data)
    assert len(frames) == 3 * nvr_sim.config.fps
    assert [f.time for f in frames] == pytest.approx([n / 10 for n in range(30)])
    with av.open(io.BytesIO(data)) as container:
        assert container.streams.video[0].codec_context.name == codec
    timef = start.strftime("%y%m%d%H%M%S") + "00"
    playcmds = [dict(q) for q in queries(nvr_sim, "hdrctl.cgi")]
    assert [q.get("PLAYCMD") for q in playcmds] == [None, "GOTODATE", "STOP"]
    assert playcmds[1]["TIMEF"] == timef
    assert len(requests_to(nvr_sim, "camera.cgi")) == 3
    assert requests_to(nvr_sim, "logout.cgi")


async def test_stream_starts_with_the_header_and_a_fragment(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    """The first chunk is the header; the first GOP follows before the stream ends."""
    start = whole_second(7200)
    async with playback_mp4(client, 1, start) as stream:
        chunks = aiter(stream)
        header = await anext(chunks)
        more = await anext(chunks)
        await chunks.aclose()
    assert top_level_boxes(header) == ["ftyp", "moov"]
    assert top_level_boxes(more) == ["moof", "mdat"]
    assert len(decode(header + more)) == nvr_sim.config.fps


async def test_follows_the_wall_clock_with_a_lead(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    """A GOP is asked for once the stream is no more than ``lead`` s ahead of the clock."""
    start = whole_second(7200)
    async with playback_mp4(client, 1, start, start + timedelta(seconds=3), lead=0.5) as stream:
        data = await collect(aiter(stream))
    assert len(decode(data)) == 30
    times = [r.time for r in requests_to(nvr_sim, "camera.cgi")]
    # GOP 1 holds 0.9 s of pictures: GOP 2 comes 0.4 s later, GOP 3 a second after that.
    assert len(times) == 3
    assert times[1] - times[0] == pytest.approx(0.4, abs=0.15)
    assert times[2] - times[1] == pytest.approx(1.0, abs=0.15)


async def test_waits_at_the_newest_recording(client: IproClient, nvr_sim: NvrSimulator) -> None:
    """At the live edge the repeated GOP is not muxed again; the stream waits for more."""
    start = whole_second(2)
    async with playback_mp4(client, 1, start, lead=10.0) as stream:
        chunks = aiter(stream)
        data = await anext(chunks)
        while len(decode(data)) < 30:
            data += await anext(chunks)
        await chunks.aclose()
    frames = decode(data)
    stamps = [f.time for f in frames]
    assert stamps == sorted(set(stamps))
    recorded = requests_to(nvr_sim, "camera.cgi")
    assert len(recorded) > 3
    assert recorded[-1].time - recorded[0].time >= 0.9


async def test_jpeg_recording_is_refused(client: IproClient, nvr_sim: NvrSimulator) -> None:
    with pytest.raises(IproCodecError, match="JPEG"):
        async with playback_mp4(client, 3, whole_second(600)):
            pytest.fail("a JPEG recording must not start a stream")
    assert requests_to(nvr_sim, "logout.cgi")


async def test_naive_times_are_refused(client: IproClient) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        async with playback_mp4(client, 1, datetime(2026, 1, 1)):  # noqa: DTZ001
            pytest.fail("unreachable")


def test_picture_size_needs_a_decodable_keyframe() -> None:
    clip = MediaLibrary.video(ClipKey("H264", 320, 240, 10, 10, 2))
    assert picture_size(VideoCodec.H264, clip.frames[0].data) == (320, 240)
    with pytest.raises(IproProtocolError, match="not a decodable keyframe"):
        picture_size(VideoCodec.H264, clip.frames[1].data)
    with pytest.raises(IproProtocolError, match="not a decodable keyframe"):
        picture_size(VideoCodec.H264, b"\x00\x00\x00\x01\x65" + b"\xff" * 64)


def test_muxer_closes_once() -> None:
    clip = MediaLibrary.video(ClipKey("H264", 320, 240, 10, 10, 2))
    muxer = Fmp4Muxer(VideoCodec.H264, 320, 240)
    data = b"".join(
        muxer.add(frame.data, index * 9000, keyframe=frame.keyframe)
        for index, frame in enumerate(clip.frames)
    )
    data += muxer.close()
    assert muxer.close() == b""
    assert len(decode(data)) == len(clip.frames)


def test_overlapping_gops_are_muxed_once() -> None:
    """Pictures a GOP repeats from the one before are left out, not muxed twice."""
    clip = MediaLibrary.video(ClipKey("H264", 320, 240, 10, 10, 2))
    origin = datetime(2026, 1, 1, tzinfo=UTC)
    pictures = tuple(
        PlaybackPicture(time=origin + timedelta(seconds=n / 10), data=frame.data)
        for n, frame in enumerate(clip.frames)
    )

    def gop(first: int, last: int) -> PlaybackGop:
        return PlaybackGop(
            codec=VideoCodec.H264,
            recorder=RecorderInfo(),
            camera=None,
            start=pictures[first].time,
            end=pictures[last - 1].time,
            pictures=pictures[first:last],
        )

    remuxer = _GopRemuxer(gop(0, 10), (320, 240))
    data = remuxer.add(gop(0, 10)) + remuxer.add(gop(0, 20)) + remuxer.close()
    assert [f.time for f in decode(data)] == pytest.approx([n / 10 for n in range(20)])
