"""LiveMedia on the simulator: snapshots, MJPEG frames, placeholder cameras, codec probing.

Fake clients at the end cover what the simulator does not do (JPEG streams that end
without a frame or stall, an NVR that sends no keyframe of the codec asked for).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
import logging

import pytest

from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.errors import (
    IproCodecError,
    IproConnectionError,
    IproTimeoutError,
)
from custom_components.ipro_nvr.aioipro.livemedia import (
    LiveMedia,
    jpeg_size,
    keyframe_to_jpeg,
)
from custom_components.ipro_nvr.aioipro.models import (
    AccessUnit,
    AudioFrame,
    JpegFrame,
    RecorderInfo,
    VideoCodec,
)
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.aioipro.restream import Keyframe
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import ClientMaker, queries
from .restream_media import FakeSource, decode_async, encoded_video, wait_for

FAST = SimulatorConfig(fps=25, speed=4.0, jpeg_fps=5.0)


def pushes(sim: NvrSimulator, camera: int) -> list[tuple[str, str]]:
    """Return (CMD, COMP) of every push.cgi request for ``camera``, in order."""
    result = []
    for query in queries(sim, "push.cgi"):
        params = dict(query)
        if params["CAM"] == str(camera):
            result.append((params["CMD"], params["COMP"]))
    return result


def media_for(client: IproClient, **kwargs: float) -> LiveMedia:
    options: dict[str, float] = {
        "picture_idle": 0.3,
        "probe_timeout": 2.0,
        "idle_timeout": 0.3,
        "reconnect_delay": 0.05,
    } | kwargs
    return LiveMedia(client, **options)  # type: ignore[arg-type]


# JPEG parsing and keyframe stills


def test_jpeg_size_reads_the_frame_header() -> None:
    key, _ = encoded_video(VideoCodec.H264)[0]
    jpeg = keyframe_to_jpeg(Keyframe(codec=VideoCodec.H264, data=key, number=1))
    assert jpeg_size(jpeg) == (160, 120)
    # Fill bytes and standalone markers before the frame header are skipped.
    assert jpeg_size(b"\xff\xd8\xff\xff\xd0" + jpeg[2:]) == (160, 120)
    assert jpeg_size(b"not a jpeg") is None
    assert jpeg_size(b"\xff\xd8\xff\xda\x00\x08") is None  # scan before any frame header
    assert jpeg_size(b"\xff\xd8\x00\x00\x00\x00") is None  # not a marker
    assert jpeg_size(b"\xff\xd8\xff\xc0\x00\x11\x08") is None  # cut frame header
    assert jpeg_size(b"\xff\xd8\xff\xe0\x00\x01\x00\x00") is None  # impossible length
    assert jpeg_size(b"\xff\xd8") is None


@pytest.mark.parametrize("codec", [VideoCodec.H264, VideoCodec.H265])
def test_keyframes_become_jpegs_and_garbage_is_an_error(codec: VideoCodec) -> None:
    key, _ = encoded_video(codec)[0]
    assert jpeg_size(keyframe_to_jpeg(Keyframe(codec=codec, data=key, number=1))) == (160, 120)
    with pytest.raises(IproCodecError):
        keyframe_to_jpeg(Keyframe(codec=codec, data=b"\x00\x00\x01\x65" + bytes(64), number=2))
    delta, _ = encoded_video(codec)[1]  # a P-frame alone decodes to nothing
    with pytest.raises(IproCodecError):
        keyframe_to_jpeg(Keyframe(codec=codec, data=delta, number=3))


# Snapshots


@pytest.mark.parametrize("sim_config", [FAST])
async def test_snapshots_reuse_one_jpeg_stream_and_close_it_when_idle(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    media = media_for(client)
    await media.start()
    try:
        first = await media.snapshot(1)
        assert first.startswith(b"\xff\xd8")
        assert not first.startswith(b"\xff\xd8\xff\xff")  # info chunks stripped
        assert jpeg_size(first) == (320, 240)
        for _ in range(5):
            assert jpeg_size(await media.snapshot(1)) == (320, 240)
        assert media.has_jpeg(1) is True
        info = media.info(1)
        assert info.jpeg_streaming
        assert not info.video_streaming
        assert pushes(nvr_sim, 1) == [("START", "JPEG")]
        await wait_for(lambda: not media.info(1).jpeg_streaming)
        await wait_for(lambda: ("STOP", "JPEG") in pushes(nvr_sim, 1))
        # After the idle close, a snapshot is the newest frame while it is recent enough:
        # answered before the stream opens again for the next one.
        assert jpeg_size(await media.snapshot(1)) == (320, 240)
        assert pushes(nvr_sim, 1).count(("START", "JPEG")) == 1
        await wait_for(lambda: pushes(nvr_sim, 1).count(("START", "JPEG")) == 2)
        await wait_for(lambda: not media.info(1).jpeg_streaming)
        # A frame older than picture_max_age is not served: the snapshot waits for a new one.
        media.picture_max_age = 0
        assert jpeg_size(await media.snapshot(1)) == (320, 240)
        assert pushes(nvr_sim, 1).count(("START", "JPEG")) == 3
    finally:
        await media.stop()
    assert not nvr_sim.active_streams()


@pytest.mark.parametrize("sim_config", [FAST])
async def test_a_camera_without_jpeg_gets_pictures_from_its_video(
    client: IproClient, nvr_sim: NvrSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    media = media_for(client)
    await media.start()
    try:
        assert media.has_jpeg(2) is None
        picture = await media.snapshot(2)  # camera 2 answers JPEG with the 39x37 placeholder
        assert jpeg_size(picture) == (320, 240)
        assert media.has_jpeg(2) is False
        again = await media.snapshot(2)
        assert jpeg_size(again) == (320, 240)
        assert media.info(2).video_streaming
    finally:
        await media.stop()
    assert pushes(nvr_sim, 2)[:2] == [("START", "JPEG"), ("STOP", "JPEG")]
    assert [p for p in pushes(nvr_sim, 2) if p == ("START", "JPEG")] == [("START", "JPEG")]
    assert caplog.text.count("has no JPEG stream") == 1


@pytest.mark.parametrize("sim_config", [FAST])
async def test_the_placeholder_stream_is_stopped_before_the_video_starts(
    make_client: ClientMaker, nvr_sim: NvrSimulator
) -> None:
    client = make_client(pacer=Pacer(command_interval=0.3, control_interval=0.01))
    media = media_for(client)
    await media.start()
    try:
        first = asyncio.create_task(media.snapshot(2))
        # Its STOP now waits 0.3 s for its slot; another picture asks for the video.
        await wait_for(lambda: media.has_jpeg(2) is False)
        assert jpeg_size(await media.snapshot(2)) == (320, 240)
        assert jpeg_size(await first) == (320, 240)
    finally:
        await media.stop()
    assert pushes(nvr_sim, 2) == [
        ("START", "JPEG"),
        ("STOP", "JPEG"),
        ("START", "H264"),
        ("STOP", "H264"),
    ]


@pytest.mark.parametrize("sim_config", [SimulatorConfig(fps=25, speed=4.0, jpeg_fps=5.0)])
async def test_cameras_asked_at_once_try_their_jpeg_stream_one_at_a_time(
    make_client: ClientMaker, nvr_sim: NvrSimulator
) -> None:
    client = make_client(pacer=Pacer(command_interval=0.1, control_interval=0.01))
    media = media_for(client)
    await media.start()
    try:
        pictures = await asyncio.gather(*(media.snapshot(camera) for camera in (2, 3, 1, 4)))
    finally:
        await media.stop()
    assert all(jpeg_size(picture) == (320, 240) for picture in pictures)
    jpeg = [
        (params["CMD"], params["CAM"])
        for params in map(dict, queries(nvr_sim, "push.cgi"))
        if params["COMP"] == "JPEG"
    ]
    # A camera without JPEG stops its placeholder before the next one is tried; camera 1
    # has a JPEG stream: the next one goes as soon as its first frame came.
    assert jpeg[:6] == [
        ("START", "2"),
        ("STOP", "2"),
        ("START", "3"),
        ("STOP", "3"),
        ("START", "1"),
        ("START", "4"),
    ]


@pytest.mark.parametrize("sim_config", [FAST])
async def test_a_recent_picture_is_served_while_the_video_starts_again(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    media = media_for(client)
    media.no_jpeg(2)
    await media.start()
    try:
        assert jpeg_size(await media.snapshot(2)) == (320, 240)
        await wait_for(lambda: ("STOP", "H264") in pushes(nvr_sim, 2))
        # Answered from the newest keyframe, before the video's START is sent again.
        assert jpeg_size(await media.snapshot(2)) == (320, 240)
        assert pushes(nvr_sim, 2) == [("START", "H264"), ("STOP", "H264")]
        await wait_for(lambda: len(pushes(nvr_sim, 2)) == 3)
    finally:
        await media.stop()
    assert pushes(nvr_sim, 2) == [("START", "H264"), ("STOP", "H264")] * 2


@pytest.mark.parametrize("sim_config", [FAST])
async def test_a_picture_request_that_gives_up_leaves_its_start_queued(
    make_client: ClientMaker, nvr_sim: NvrSimulator
) -> None:
    # The live login goes first, so the START waits at least 0.5 s for its slot.
    client = make_client(pacer=Pacer(command_interval=0.5, control_interval=0.01))
    media = media_for(client, idle_timeout=0.05)
    media.no_jpeg(2)
    await media.start()
    try:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):  # Home Assistant's picture timeout, scaled
                await media.snapshot(2)
        await wait_for(lambda: ("START", "H264") in pushes(nvr_sim, 2))
        assert jpeg_size(await media.snapshot(2)) == (320, 240)
        assert pushes(nvr_sim, 2) == [("START", "H264")]
    finally:
        await media.stop()


CARDS = range(2, 10)
REFRESH = 1.0
"""A picture card's refresh and Home Assistant's picture timeout (10 s), scaled down."""


@pytest.mark.parametrize("sim_config", [SimulatorConfig(fps=25, speed=4.0, registered=9)])
async def test_picture_cards_of_cameras_without_jpeg_keep_their_pictures(
    make_client: ClientMaker, nvr_sim: NvrSimulator
) -> None:
    """A dashboard of cameras without JPEG, each card asking every REFRESH s.

    The production ratios, scaled down: each stream's START waits its turn in the paced
    command lane (0.3 s here, 3 s on the NVR), so opening the dashboard takes longer than
    a card waits, and a restream closes sooner than a card asks again.
    """
    client = make_client(pacer=Pacer(command_interval=0.3, control_interval=0.01))
    media = media_for(client, picture_idle=3 * REFRESH, idle_timeout=0.2)
    for camera in CARDS:
        media.no_jpeg(camera)

    async def card(camera: int) -> bool:
        try:
            async with asyncio.timeout(REFRESH):
                picture = await media.snapshot(camera)
        except TimeoutError:
            return False
        return jpeg_size(picture) == (320, 240)

    async def refresh() -> list[bool]:
        *served, _ = await asyncio.gather(*map(card, CARDS), asyncio.sleep(REFRESH))
        return served

    await media.start()
    try:
        served: set[int] = set()
        for _ in range(10):  # the dashboard opens: the streams start one slot apart
            served.update(camera for camera, ok in zip(CARDS, await refresh(), strict=True) if ok)
            if served == set(CARDS):
                break
        assert served == set(CARDS)
        for _ in range(3):
            assert all(await refresh())
        # One START a camera, and no STOP while the cards refresh.
        assert all(pushes(nvr_sim, camera) == [("START", "H264")] for camera in CARDS)
        await wait_for(lambda: not any(media.info(camera).video_streaming for camera in CARDS))
    finally:
        await media.stop()
    assert all(pushes(nvr_sim, camera) == [("START", "H264"), ("STOP", "H264")] for camera in CARDS)


@pytest.mark.parametrize("sim_config", [FAST])
async def test_the_video_takes_the_camera_over_from_the_jpeg_stream(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    media = media_for(client, picture_idle=30)
    await media.start()
    try:
        await media.snapshot(1)
        viewer = asyncio.create_task(decode_async(media.stream_url(1), 150))
        await wait_for(lambda: ("START", "H264") in pushes(nvr_sim, 1))
        # While the video runs, snapshots are its keyframes: no JPEG stream beside it.
        picture = await media.snapshot(1)
        assert jpeg_size(picture) == (320, 240)
        decoded = await viewer
        assert len(decoded.video) >= 150
        assert media.codec(1) is VideoCodec.H264
    finally:
        await media.stop()
    assert pushes(nvr_sim, 1)[:3] == [("START", "JPEG"), ("STOP", "JPEG"), ("START", "H264")]


@pytest.mark.parametrize(
    "sim_config", [SimulatorConfig(fps=25, speed=4.0, jpeg_fps=5.0, clip_gops=4)]
)
async def test_mjpeg_frames_follow_the_jpeg_stream_or_the_keyframes(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    media = media_for(client)
    await media.start()
    try:
        jpeg_frames = []
        async for frame in media.frames(1):
            jpeg_frames.append(frame)
            if len(jpeg_frames) == 4:
                break
        still_frames = []
        async for frame in media.frames(2):
            still_frames.append(frame)
            if len(still_frames) == 3:
                break
    finally:
        await media.stop()
    assert len(set(jpeg_frames)) == 4
    assert all(jpeg_size(frame) == (320, 240) for frame in jpeg_frames + still_frames)
    assert len(set(still_frames)) == 3  # one per keyframe, each a new picture


# Codec probing


@pytest.mark.parametrize(
    ("sim_config", "first_starts", "refused"),
    [
        # The NVR streams the camera's own codec: followed as it is, no new request.
        (SimulatorConfig(fps=25, speed=4.0, camera_codecs={1: "H265"}), ["H264"], False),
        # The NVR refuses the other codec: the next connection asks for the camera's.
        (
            SimulatorConfig(fps=25, speed=4.0, camera_codecs={1: "H265"}, strict_codec=True),
            ["H264", "H265"],
            True,
        ),
    ],
    ids=["sends-its-own", "refuses"],
)
async def test_the_codec_a_camera_streams_is_found(
    client: IproClient, nvr_sim: NvrSimulator, first_starts: list[str], refused: bool
) -> None:
    media = media_for(client, probe_timeout=1.0)
    media.configure(1, VideoCodec.H264)
    await media.start()
    try:
        assert media.codec(1) is None
        decoded = await decode_async(media.stream_url(1), 50)
        assert media.codec(1) is VideoCodec.H265
        diagnostics = media.diagnostics(1)
        assert diagnostics["codec"] is VideoCodec.H265
        assert diagnostics["restream"]["last_error"] is refused  # a text would name the NVR
        starts = [comp for cmd, comp in pushes(nvr_sim, 1) if cmd == "START"]
        assert starts == first_starts
        # Once the stream closed, the next one asks for the codec found.
        await wait_for(lambda: not media.info(1).video_streaming)
        again = await decode_async(media.stream_url(1), 10)
    finally:
        await media.stop()
    assert decoded.codec == again.codec == "hevc"
    starts = [comp for cmd, comp in pushes(nvr_sim, 1) if cmd == "START"]
    assert starts == [*first_starts, "H265"]


# Fake clients for what the simulator does not do


@dataclass
class FakeClient:
    """Video from a FakeSource; JPEG streams that end, fail or stall as the test says."""

    video: FakeSource = field(default_factory=FakeSource)
    jpeg: str = "ends"

    def live_video(
        self, camera: int, codec: VideoCodec = VideoCodec.H264, audio: bool = False
    ) -> AbstractAsyncContextManager[AsyncIterator[AccessUnit | AudioFrame]]:
        return self.video(camera, codec, audio=audio)

    @asynccontextmanager
    async def live_jpeg(self, camera: int) -> AsyncIterator[AsyncIterator[JpegFrame]]:
        if self.jpeg == "fails":
            raise IproConnectionError("refused")
        yield self._frames()

    async def _frames(self) -> AsyncIterator[JpegFrame]:
        if self.jpeg == "stalls":
            await asyncio.Event().wait()
        for _ in ():
            yield JpegFrame(jpeg=b"", recorder=RecorderInfo(), camera=None)


@dataclass
class MuteSource(FakeSource):
    """A FakeSource that sends nothing at all when asked for ``mute``."""

    mute: VideoCodec = VideoCodec.H264

    @asynccontextmanager
    async def __call__(
        self, camera: int, codec: VideoCodec, *, audio: bool = False
    ) -> AsyncIterator[AsyncIterator[AccessUnit | AudioFrame]]:
        if codec is not self.mute:
            async with super().__call__(camera, codec, audio=audio) as items:
                yield items
            return
        self.opened.append((camera, codec, audio))
        yield nothing(stall=True)


async def nothing(*, stall: bool = False) -> AsyncIterator[AccessUnit | AudioFrame]:
    """Yield no item: end at once, or never (``stall``)."""
    if stall:
        await asyncio.Event().wait()
    for _ in ():
        yield _


@pytest.mark.usefixtures("socket_enabled")
async def test_a_camera_streaming_the_other_codec_is_followed() -> None:
    client = FakeClient(video=FakeSource(codec=VideoCodec.H265))  # whatever is asked
    media = LiveMedia(client, idle_timeout=0.2, reconnect_delay=0.02)
    await media.start()
    try:
        decoded = await decode_async(media.stream_url(1), 30)
        assert [codec for _, codec, _ in client.video.opened] == [VideoCodec.H264]
        assert media.codec(1) is VideoCodec.H265
        await wait_for(lambda: not media.info(1).video_streaming)
        await decode_async(media.stream_url(1), 5)
    finally:
        await media.stop()
    assert decoded.codec == "hevc"
    assert [codec for _, codec, _ in client.video.opened] == [VideoCodec.H264, VideoCodec.H265]


@pytest.mark.usefixtures("socket_enabled")
async def test_no_keyframe_in_time_asks_for_the_other_codec() -> None:
    client = FakeClient(video=MuteSource(codec=VideoCodec.H265, mute=VideoCodec.H264))
    media = LiveMedia(client, probe_timeout=0.2, idle_timeout=0.2, reconnect_delay=0.02)
    await media.start()
    try:
        decoded = await decode_async(media.stream_url(1), 10)
        stats = media.restreamer.stats(1)
    finally:
        await media.stop()
    assert decoded.codec == "hevc"
    assert [codec for _, codec, _ in client.video.opened] == [VideoCodec.H264, VideoCodec.H265]
    assert media.codec(1) is VideoCodec.H265
    assert stats is not None
    assert stats.last_error == "Camera 1 sent no keyframe in 0.2 s of asking for H264."


async def test_a_stream_that_ends_before_a_keyframe_teaches_nothing() -> None:
    media = LiveMedia(FakeClient())
    items = media._probe(1, VideoCodec.H264, nothing())
    assert [item async for item in items] == []
    assert media.codec(1) is None


@pytest.mark.usefixtures("socket_enabled")
async def test_a_keyframe_timeout_fails_the_request_but_not_the_pictures() -> None:
    client = FakeClient(video=MuteSource(codec=VideoCodec.H265, mute=VideoCodec.H264))
    media = LiveMedia(
        client, probe_timeout=0.5, keyframe_timeout=0.1, idle_timeout=0.05, reconnect_delay=0.02
    )
    media.no_jpeg(1)
    await media.start()
    try:
        with pytest.raises(IproTimeoutError, match="no picture"):
            await media.snapshot(1)  # nothing comes for the H.264 asked for
        # The video stays open for pictures: once it asks for H.265, keyframes come.
        await wait_for(lambda: media.codec(1) is VideoCodec.H265)
        assert jpeg_size(await media.snapshot(1)) == (160, 120)
    finally:
        await media.stop()
    assert [codec for _, codec, _ in client.video.opened] == [VideoCodec.H264, VideoCodec.H265]


@pytest.mark.usefixtures("socket_enabled")
async def test_jpeg_streams_that_end_fail_or_stall() -> None:
    client = FakeClient(jpeg="ends")
    media = LiveMedia(
        client, picture_idle=0.2, frame_timeout=0.2, idle_timeout=0.2, reconnect_delay=0.02
    )
    await media.start()
    try:
        # Ended without a frame: the picture comes from the video.
        assert jpeg_size(await media.snapshot(1)) == (160, 120)
        assert media.has_jpeg(1) is None
        await wait_for(lambda: not media.info(1).video_streaming)
        client.jpeg = "fails"
        with pytest.raises(IproConnectionError):
            await media.snapshot(1)
        client.jpeg = "stalls"
        with pytest.raises(IproTimeoutError, match="no picture"):
            await media.snapshot(1)
    finally:
        await media.stop()
