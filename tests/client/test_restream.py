"""Restream engine against real H.264/H.265/AAC from an injected source.

The simulator-backed tests (through the real client) are in ``test_restream_sim.py``;
these cover the engine's own rules with sources that misbehave on purpose.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
import io
from itertools import pairwise

import aiohttp
import av
import pytest

from custom_components.ipro_nvr.aioipro.errors import (
    IproBusyError,
    IproConnectionError,
    IproTimeoutError,
)
from custom_components.ipro_nvr.aioipro.models import AccessUnit, AudioCodec, VideoCodec
from custom_components.ipro_nvr.aioipro.muxer import (
    TsChunk,
    TsMuxer,
    aac_channels,
    adts_frame,
    annexb,
    detect_codec,
    has_all_parameter_sets,
    inspect_keyframe,
    is_adts,
    iter_leading_nals,
)
from custom_components.ipro_nvr.aioipro.restream import (
    MAX_RECONNECT_GAP,
    Restreamer,
    StreamStats,
    _Timeline,
    _Viewer,
)

from .restream_media import (
    FRAME_TICKS,
    FakeSource,
    decode_async,
    encoded_audio,
    encoded_video,
    increasing,
    keyframes,
    wait_for,
)

pytestmark = pytest.mark.usefixtures("socket_enabled")  # loopback HTTP only

CODECS = [VideoCodec.H264, VideoCodec.H265]
PAT = b"\x47\x40\x00"


def fast_restreamer(source: FakeSource, **kwargs: float) -> Restreamer:
    options: dict[str, float] = {"idle_timeout": 0.2, "reconnect_delay": 0.02} | kwargs
    return Restreamer(source, **options)  # type: ignore[arg-type]


# Access unit inspection and muxing


@pytest.mark.parametrize("codec", CODECS)
def test_keyframes_carry_parameter_sets_and_p_frames_none(codec: VideoCodec) -> None:
    units = encoded_video(codec)
    key, _ = units[0]
    assert detect_codec(key) is codec
    info = inspect_keyframe(codec, key)
    assert info.irap
    assert has_all_parameter_sets(codec, info.parameter_sets)
    delta, is_key = units[1]
    assert not is_key
    assert detect_codec(delta) is None
    assert inspect_keyframe(codec, delta) == (False, ())
    assert keyframes(units) == [0, 15, 30, 45]


def test_detect_codec_rejects_what_is_not_video() -> None:
    assert detect_codec(b"") is None
    assert detect_codec(b"\xff\xd8\xff\xe0 not annex b") is None
    assert detect_codec(b"\x00\x00\x01\x80\x01") is None  # forbidden bit set
    assert detect_codec(b"\x00\x00\x01" * 20 + b"\x01") is None  # too many NALs, no SPS


def test_leading_nals_stop_at_the_first_slice() -> None:
    key, _ = encoded_video(VideoCodec.H264)[0]
    nals = list(iter_leading_nals(VideoCodec.H264, key))
    assert [nal.type for nal in nals][-1] == 5
    assert nals[-1].end == len(key)
    assert {7, 8} <= {nal.type for nal in nals}
    sps = next(nal for nal in nals if nal.type == 7)
    assert key[sps.start - 4 : sps.start] == b"\x00\x00\x00\x01"
    assert key[sps.end : sps.end + 4] in {b"\x00\x00\x00\x01", b"\x00\x00\x01\x68"}
    assert annexb((b"\x67\x42", b"\x68\xce")) == b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68\xce"


def test_aac_channels_and_adts() -> None:
    mono = encoded_audio()[5]
    stereo = encoded_audio(layout="stereo")[5]
    assert aac_channels(mono) == 1
    assert aac_channels(stereo) == 2
    assert aac_channels(b"\xdc\x00") is None  # fill element: cannot tell
    assert aac_channels(b"") is None
    framed = adts_frame(mono, 1)
    assert is_adts(framed)
    assert not is_adts(mono)
    assert len(framed) == len(mono) + 7
    assert (framed[3] & 0x03) << 11 | framed[4] << 3 | framed[5] >> 5 == len(framed)
    with av.open(io.BytesIO(framed * 3), "r", format="aac") as container:
        stream = container.streams.audio[0]
        assert stream.sample_rate == 48000
        assert stream.codec_context.profile == "LC"
        assert len(list(container.decode(stream))) == 3


@pytest.mark.parametrize("codec", CODECS)
def test_muxer_cuts_output_at_every_keyframe(codec: VideoCodec) -> None:
    muxer = TsMuxer(codec, audio=False)
    chunks: list[TsChunk] = []
    units = encoded_video(codec)
    for index, (data, key) in enumerate(units):
        chunks += muxer.video(data, index * FRAME_TICKS, keyframe=key)
    chunks += muxer.close()
    assert muxer.close() == []
    assert sum(chunk.gop_start for chunk in chunks) == len(keyframes(units))
    assert chunks[0].gop_start
    assert chunks[0].data.startswith(b"\x47\x40\x11")  # the SDT rides with the first GOP
    assert all(chunk.data.startswith(PAT) for chunk in chunks[1:] if chunk.gop_start)
    assert all(len(chunk.data) % 188 == 0 for chunk in chunks)
    stream = b"".join(chunk.data for chunk in chunks)
    with av.open(io.BytesIO(stream), "r") as container:
        pts = [frame.pts for frame in container.decode(video=0)]
    assert pts == [index * FRAME_TICKS for index in range(len(units))]


def test_muxer_refuses_jpeg_and_ignores_audio_without_a_track() -> None:
    with pytest.raises(ValueError, match="JPEG"):
        TsMuxer(VideoCodec.JPEG, audio=False)
    muxer = TsMuxer(VideoCodec.H264, audio=False)
    assert not muxer.has_audio
    assert muxer.audio(adts_frame(encoded_audio()[5], 1), 0) == []
    muxer.close()


# Time stamps and viewers


def test_timeline_starts_at_zero_and_survives_wrap_repeats_jumps_and_gaps() -> None:
    timeline = _Timeline()
    assert timeline.start(0xFFFFF000, now=100.0) == 0
    assert timeline.next(0xFFFFF000 + 3000 - 0x100000000) == 3000  # 32-bit wrap
    assert timeline.next(3000 - 0x1000 + 6000) == 9000  # 2 frames later
    assert timeline.next(3000 - 0x1000 + 6000) == 15000  # repeated stamp: keep the pace
    assert timeline.next(5) == 21000  # backwards
    assert timeline.next(5 + 3600 * 90000) == 27000  # an hour ahead: a discontinuity
    timeline.lost(now=200.0)
    timeline.lost(now=201.0)  # the first loss counts
    assert timeline.start(123, now=202.5) == 27000 + int(2.5 * 90000)
    timeline.lost(now=300.0)
    assert timeline.start(9, now=400.0) == 27000 + int(2.5 * 90000) + MAX_RECONNECT_GAP
    last = timeline.last
    assert last is not None
    assert timeline.start(9, now=400.0) == last + 6000  # no loss noted: one (last) step on


async def test_a_slow_viewer_skips_to_the_next_keyframe_and_stays_bounded() -> None:
    viewer = _Viewer(limit=1000)
    viewer.offer(TsChunk(b"p" * 100, gop_start=False))  # before any keyframe: not playable
    viewer.offer(TsChunk(b"K" * 400, gop_start=True))
    viewer.offer(TsChunk(b"p" * 400, gop_start=False))
    viewer.offer(TsChunk(b"p" * 400, gop_start=False))  # over the limit: backlog dropped
    viewer.offer(TsChunk(b"p" * 100, gop_start=False))  # still waiting for a keyframe
    assert viewer.skips == 1
    viewer.offer(TsChunk(b"K" * 300, gop_start=True))
    viewer.offer(TsChunk(b"p" * 50, gop_start=False))
    assert await viewer.read() == b"K" * 300 + b"p" * 50
    viewer.offer(TsChunk(b"K" * 2000, gop_start=True))  # a huge GOP start still gets through
    viewer.close()
    viewer.offer(TsChunk(b"p", gop_start=False))  # ignored once closed
    assert await viewer.read() == b"K" * 2000
    assert await viewer.read() is None


async def test_viewer_reads_in_batches() -> None:
    viewer = _Viewer(limit=10_000_000)
    for index in range(12):
        viewer.offer(TsChunk(bytes(50_000), gop_start=index == 0))
    first = await viewer.read()
    assert first is not None
    assert 256 * 1024 <= len(first) < 256 * 1024 + 50_000
    waiter = asyncio.create_task(viewer.read())
    assert len(await waiter or b"") == 12 * 50_000 - len(first)


# The HTTP restream


@pytest.mark.parametrize("codec", CODECS)
async def test_restream_decodes_with_increasing_timestamps(codec: VideoCodec) -> None:
    source = FakeSource(codec=codec)
    async with fast_restreamer(source) as restreamer:
        url = restreamer.url(3, codec)
        assert url.startswith(f"http://127.0.0.1:{restreamer.port}/")
        assert url.endswith("/3.ts")
        decoded = await decode_async(url, 60)
        assert decoded.codec == {VideoCodec.H264: "h264", VideoCodec.H265: "hevc"}[codec]
        assert len(decoded.video) >= 60
        assert decoded.video[0] == 0  # the first keyframe after joining mid-GOP
        assert increasing(decoded.video)
        assert {b - a for a, b in pairwise(decoded.video[:60])} == {FRAME_TICKS}
        stats = restreamer.stats(3)
        assert stats is not None
        assert stats.codec is codec
        assert restreamer.detected_codec(3) is codec
        assert source.opened == [(3, codec, False)]
    assert source.closed == 1
    assert restreamer.stats(4) is None
    assert restreamer.detected_codec(4) is None


async def test_restream_with_audio() -> None:
    source = FakeSource()
    async with fast_restreamer(source) as restreamer:
        decoded = await decode_async(restreamer.url(1, audio=True), 60, audio=True)
        stats = restreamer.stats(1)
    assert decoded.audio_codec == "aac"
    assert len(decoded.audio) >= 60
    assert increasing(decoded.audio)
    assert increasing(decoded.video)
    # Audio is placed on the video clock: both tracks cover the same time.
    assert abs(decoded.audio[0] - decoded.video[0]) <= 2 * FRAME_TICKS
    assert stats is not None
    assert stats.audio
    assert stats.audio_requested


async def test_audio_asked_but_absent_gives_video_only() -> None:
    source = FakeSource(audio_frames=False)
    async with fast_restreamer(source, audio_wait=0.05) as restreamer:
        url = restreamer.url(1, audio=True)
        decoded = await decode_async(url, 50)
        stats = restreamer.stats(1)
    assert len(decoded.video) >= 50
    assert increasing(decoded.video)
    assert stats is not None
    assert not stats.audio


async def test_two_viewers_share_one_nvr_stream() -> None:
    source = FakeSource()
    async with fast_restreamer(source) as restreamer:
        url = restreamer.url(2)
        first, second = await asyncio.gather(decode_async(url, 50), decode_async(url, 50))
        late = await decode_async(url, 50)  # joins the running stream from its current GOP
    assert source.opened == [(2, VideoCodec.H264, False)]
    for decoded in (first, second, late):
        assert len(decoded.video) >= 50
        assert increasing(decoded.video)
    assert late.video[0] > 0


async def test_token_and_camera_are_required() -> None:
    source = FakeSource()
    async with fast_restreamer(source) as restreamer, aiohttp.ClientSession() as session:
        url = restreamer.url(1)
        base = url.rsplit("/", 2)[0]
        for wrong in (f"{base}/wrong-token/1.ts", url.replace("/1.ts", "/2.ts"), f"{base}/"):
            async with session.get(wrong) as response:
                assert response.status == 404
        async with session.get(url) as response:
            assert response.status == 200
            assert response.content_type == "video/mp2t"
            assert (await response.content.readexactly(188))[0] == 0x47
    assert source.opened == [(1, VideoCodec.H264, False)]


async def test_stream_survives_dropped_nvr_connections() -> None:
    source = FakeSource(limit=25)  # each connection dies after 25 frames, mid-GOP
    source.failures += [IproConnectionError("refused"), IproConnectionError("refused again")]
    async with fast_restreamer(source) as restreamer:
        decoded = await decode_async(restreamer.url(1), 90)
        stats = restreamer.stats(1)
    assert len(decoded.video) >= 90
    assert increasing(decoded.video)
    assert stats is not None
    assert stats.connects >= 4
    assert stats.last_error is not None
    assert len(source.opened) >= 4


async def test_unexpected_source_error_is_logged_and_retried(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FakeSource()
    source.failures.append(RuntimeError("parser bug"))
    async with fast_restreamer(source) as restreamer:
        decoded = await decode_async(restreamer.url(1), 50)
    assert len(decoded.video) >= 50
    assert "live stream failed" in caplog.text
    assert "restored" in caplog.text


async def test_nvr_stream_stops_after_the_last_viewer_plus_idle_time() -> None:
    source = FakeSource()
    async with fast_restreamer(source, idle_timeout=0.3) as restreamer:
        url = restreamer.url(1)
        await decode_async(url, 30)
        await decode_async(url, 30)  # within the idle time: same NVR stream
        assert len(source.opened) == 1
        await wait_for(lambda: source.closed == 1)
        stats = restreamer.stats(1)
        assert stats is not None
        assert not stats.running
        assert stats.viewers == 0
        await decode_async(url, 30)  # a new viewer starts a new NVR stream
        assert len(source.opened) == 2


async def test_no_more_nvr_streams_than_the_limit() -> None:
    source = FakeSource()
    async with (
        fast_restreamer(source, max_streams=1, idle_timeout=30) as restreamer,
        aiohttp.ClientSession() as session,
    ):
        one, two = restreamer.url(1), restreamer.url(2)
        async with session.get(one) as response:
            await response.content.readexactly(188)
            async with session.get(two) as refused:
                assert refused.status == 503
                assert refused.headers["Retry-After"] == "10"
        # Camera 1 is idle now (not stopped yet): camera 2 takes its place.
        decoded = await decode_async(two, 30)
        assert len(decoded.video) >= 30
        assert [camera for camera, _, _ in source.opened] == [1, 2]
        assert source.closed == 1
        # Camera 1 again, while camera 2 is still idle: camera 2 makes room.
        decoded = await decode_async(one, 30)
        assert [camera for camera, _, _ in source.opened] == [1, 2, 1]


async def test_changed_settings_end_viewers_and_take_effect() -> None:
    source = FakeSource(codec=VideoCodec.H265)
    async with fast_restreamer(source) as restreamer, aiohttp.ClientSession() as session:
        url = restreamer.url(1, VideoCodec.H265)
        async with session.get(url) as response:
            await response.content.readexactly(188)
            assert restreamer.url(1, VideoCodec.H265) == url  # same settings: no change
            assert restreamer.url(1, VideoCodec.H265, audio=True) == url
            await asyncio.wait_for(response.content.read(), 5)  # ends
        decoded = await decode_async(url, 30, audio=True)
    assert len(decoded.video) >= 30
    assert source.opened[-1] == (1, VideoCodec.H265, True)


async def test_codec_follows_the_bytes_not_the_label() -> None:
    source = FakeSource(codec=VideoCodec.H265, label=VideoCodec.H264)
    async with fast_restreamer(source) as restreamer:
        decoded = await decode_async(restreamer.url(1), 30)
        assert decoded.codec == "hevc"
        assert restreamer.detected_codec(1) is VideoCodec.H265


class _SwitchingSource(FakeSource):
    """Sends H.264 on the first connection and H.265 on the next ones."""

    async def _items(self, *, audio: bool):  # type: ignore[no-untyped-def]
        self.codec = VideoCodec.H264 if len(self.opened) == 1 else VideoCodec.H265
        self.limit = 20 if len(self.opened) == 1 else None
        async for item in super()._items(audio=audio):
            yield item


async def test_a_codec_change_restarts_the_viewers() -> None:
    source = _SwitchingSource()
    async with fast_restreamer(source) as restreamer, aiohttp.ClientSession() as session:
        url = restreamer.url(1)
        async with session.get(url) as response:
            await asyncio.wait_for(response.content.read(), 5)  # ended at the switch
        decoded = await decode_async(url, 30)
    assert decoded.codec == "hevc"
    assert restreamer.detected_codec(1) is VideoCodec.H265


class _MidStreamSwitchSource(FakeSource):
    """Sends H.264, then H.265 from a keyframe on, over one NVR stream (a camera set to
    H.265 while streamed: the client passes the new codec on from its first keyframe)."""

    async def _items(self, *, audio: bool):  # type: ignore[no-untyped-def]
        self.codec, self.limit = VideoCodec.H264, 40  # joined at unit 5: keyframes 15, 30
        async for item in super()._items(audio=audio):
            yield item
        self.codec, self.start, self.limit = VideoCodec.H265, 0, None
        async for item in super()._items(audio=audio):
            yield item


def decode_bytes(data: bytes) -> tuple[str, list[int]]:
    """Decode a whole MPEG-TS capture; return its video codec and frame time stamps."""
    with av.open(io.BytesIO(data), "r", format="mpegts") as container:
        (video,) = container.streams.video
        stamps = [frame.pts for frame in container.decode(video) if frame.pts is not None]
        return video.codec_context.name, stamps


@pytest.mark.parametrize("audio", [False, True], ids=["video", "audio"])
async def test_a_codec_change_mid_stream_gives_a_new_stream(audio: bool) -> None:
    source = _MidStreamSwitchSource()
    async with fast_restreamer(source) as restreamer, aiohttp.ClientSession() as session:
        url = restreamer.url(1, audio=audio)
        async with session.get(url) as response:
            before = await asyncio.wait_for(response.content.read(), 5)  # ended at the switch
        after = await decode_async(url, 30, audio=audio)
        assert restreamer.detected_codec(1) is VideoCodec.H265
        keyframe = await restreamer.keyframe(1)
        assert keyframe.codec is VideoCodec.H265
    codec, stamps = decode_bytes(before)
    assert codec == "h264"
    assert len(stamps) == 30  # every H.264 picture from the first keyframe to the switch
    assert increasing(stamps)
    assert after.codec == "hevc"
    assert len(after.video) >= 30
    assert increasing(after.video)
    assert after.video[0] > stamps[-1]  # the output clock goes on
    assert source.opened == [(1, VideoCodec.H264, audio)]  # without a new NVR stream


class _BareKeyframeSource(FakeSource):
    """Sends parameter sets with the second keyframe only, as some cameras do."""

    async def _items(self, *, audio: bool):  # type: ignore[no-untyped-def]
        seen = 0
        async for item in super()._items(audio=audio):
            if isinstance(item, AccessUnit) and item.keyframe:
                seen += 1
                if seen != 2:
                    slice_start = next(
                        nal.start
                        for nal in iter_leading_nals(item.codec, item.data)
                        if nal.type == 5
                    )
                    yield replace(item, data=b"\x00\x00\x00\x01" + item.data[slice_start:])
                    continue
            yield item


async def test_later_viewers_get_parameter_sets_repeated() -> None:
    source = _BareKeyframeSource(start=0)  # starts at a keyframe without parameter sets
    async with fast_restreamer(source) as restreamer:
        url = restreamer.url(1)
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            await response.content.readexactly(188 * 200)  # past the first GOP
            late = await decode_async(url, 30)
        stats = restreamer.stats(1)
    assert len(late.video) >= 30
    assert late.video[0] > 0
    assert stats is not None
    assert stats.keyframes >= 3


async def test_slow_viewer_is_skipped_ahead_without_slowing_others() -> None:
    source = FakeSource(interval=0.001, filler=20_000)
    async with (
        fast_restreamer(source, viewer_buffer=300_000, gop_cache=100_000) as restreamer,
        aiohttp.ClientSession(read_bufsize=2**10) as session,
    ):
        url = restreamer.url(1)
        async with session.get(url) as stalled:
            await stalled.content.readexactly(188)
            fast = await decode_async(url, 120)  # plays on while the other one stalls
            await wait_for(lambda: stats_of(restreamer, 1).skips > 0)
    assert len(fast.video) >= 120
    assert increasing(fast.video)


def stats_of(restreamer: Restreamer, camera: int) -> StreamStats:
    stats = restreamer.stats(camera)
    assert stats is not None
    return stats


async def test_restreamer_lifecycle() -> None:
    restreamer = Restreamer(FakeSource())
    with pytest.raises(RuntimeError, match="not started"):
        restreamer.url(1)
    await restreamer.start()
    port = restreamer.port
    await restreamer.start()  # already listening
    assert restreamer.port == port
    busy = Restreamer(FakeSource(), port=port)
    with pytest.raises(OSError):  # the port is taken
        await busy.start()
    await restreamer.stop()
    await restreamer.stop()


async def test_audio_that_is_not_aac_is_left_out() -> None:
    source = FakeSource(audio_codec=AudioCodec.G711)
    async with fast_restreamer(source, audio_wait=0.05) as restreamer:
        decoded = await decode_async(restreamer.url(1, audio=True), 30)
        stats = restreamer.stats(1)
    assert len(decoded.video) >= 30
    assert stats is not None
    assert not stats.audio


async def test_audio_already_in_adts_passes_through() -> None:
    source = FakeSource(adts=True)
    async with fast_restreamer(source) as restreamer:
        decoded = await decode_async(restreamer.url(1, audio=True), 40, audio=True)
    assert decoded.audio_codec == "aac"
    assert len(decoded.audio) >= 40
    assert increasing(decoded.audio)


async def test_a_viewer_returning_while_the_stream_closes_waits_for_the_close() -> None:
    source = FakeSource(close_delay=0.3)
    async with fast_restreamer(source, idle_timeout=0.05) as restreamer:
        url = restreamer.url(1)
        await decode_async(url, 20)
        await wait_for(lambda: not stats_of(restreamer, 1).running)
        assert source.closed == 0  # still sending STOP
        decoded = await decode_async(url, 20)
    assert len(decoded.video) >= 20
    assert source.closed == 2
    assert len(source.opened) == 2


class _NoKeyframeSource(FakeSource):
    """A stream that never brings a keyframe."""

    async def _items(self, *, audio: bool):  # type: ignore[no-untyped-def]
        async for item in super()._items(audio=audio):
            if isinstance(item, AccessUnit) and not item.keyframe:
                yield item


async def test_keyframes_for_stills() -> None:
    source = FakeSource()
    async with fast_restreamer(source, max_streams=1) as restreamer:
        restreamer.url(1)
        first = await restreamer.keyframe(1)
        assert first.codec is VideoCodec.H264
        assert detect_codec(first.data) is VideoCodec.H264
        newer = await restreamer.keyframe(1, after=first.number)
        assert newer.number > first.number
        assert restreamer.is_active(1)
        assert not restreamer.is_active(2)
        restreamer.url(2)
        async with aiohttp.ClientSession() as session, session.get(restreamer.url(1)) as view:
            await view.content.readexactly(188)
            with pytest.raises(IproBusyError):  # camera 1 has a viewer: no room for 2
                await restreamer.keyframe(2)
    assert len(source.opened) == 1


async def test_a_still_waits_for_a_keyframe_only_so_long() -> None:
    source = _NoKeyframeSource()
    async with fast_restreamer(source, keyframe_timeout=0.2) as restreamer:
        restreamer.url(1)
        with pytest.raises(IproTimeoutError, match="no picture"):
            await restreamer.keyframe(1)
