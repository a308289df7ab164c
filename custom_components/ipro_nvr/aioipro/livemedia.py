"""Live pictures of one NVR for a camera platform: restream URLs, snapshots and MJPEG.

One live UID carries one stream per camera, so a camera's JPEG stream and its video
stream cannot run at the same time. Video wins. While a camera's video is restreamed,
and for a camera without a JPEG stream (the NVR answers ``COMP=JPEG`` with a 39x37
placeholder), pictures are decoded from the video's latest keyframe; otherwise they are
the frames of the camera's JPEG stream. Either stream opens at the first picture asked
for and stays open while pictures keep being asked for (see ``_Feed``), so a snapshot is
the stream's newest picture, with no new NVR command.

The codec to ask for is learned per camera: the configured one first. The client
depacketizes by payload type, so a camera that answers with its own codec is followed as
it is, and the codec its first keyframe shows is asked for from then on. A refused
request, or a connection that brings no keyframe within ``probe_timeout``, makes the next
connection ask for the other codec.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import asdict, dataclass
from fractions import Fraction
import logging
from typing import Any, Final, Protocol, override

import av

from .errors import IproCodecError, IproError, IproTimeoutError
from .models import AccessUnit, AudioFrame, JpegFrame, VideoCodec
from .muxer import detect_codec
from .restream import Keyframe, LiveItem, Restreamer

_LOGGER = logging.getLogger(__name__)

PLACEHOLDER_SIZE: Final = (39, 37)
"""Width and height of the image the NVR sends for a camera without a JPEG stream."""
JPEG_QUALITY: Final = 3
"""FFmpeg's JPEG quantiser scale (2 best .. 31 worst) for stills decoded from video."""
_FF_QP2LAMBDA: Final = 118
_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE_MARKERS: Final = frozenset({0x01, *range(0xD0, 0xD8)})


class LiveClient(Protocol):
    """The part of ``IproClient`` live pictures need."""

    def live_video(
        self, camera: int, codec: VideoCodec = VideoCodec.H264, audio: bool = False
    ) -> AbstractAsyncContextManager[AsyncIterator[AccessUnit | AudioFrame]]:
        """Open a live H.264/H.265 stream."""
        ...

    def live_jpeg(self, camera: int) -> AbstractAsyncContextManager[AsyncIterator[JpegFrame]]:
        """Open a live JPEG stream."""
        ...


type RunBlocking = Callable[[Callable[[], bytes]], Awaitable[bytes]]


async def _to_thread(func: Callable[[], bytes]) -> bytes:
    return await asyncio.to_thread(func)


def _other(codec: VideoCodec) -> VideoCodec:
    return VideoCodec.H264 if codec is VideoCodec.H265 else VideoCodec.H265


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Return a JPEG's (width, height) from its frame header, ``None`` if it has none."""
    if not data.startswith(b"\xff\xd8"):
        return None
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE_MARKERS:
            pos += 2
            continue
        length = int.from_bytes(data[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if length < 7 or pos + 9 > len(data):
                return None
            height = int.from_bytes(data[pos + 5 : pos + 7])
            width = int.from_bytes(data[pos + 7 : pos + 9])
            return width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        pos += 2 + length
    return None


def is_placeholder(jpeg: bytes) -> bool:
    """Return whether a live JPEG is the NVR's stand-in for a camera without JPEG."""
    return jpeg_size(jpeg) == PLACEHOLDER_SIZE


def keyframe_to_jpeg(keyframe: Keyframe) -> bytes:
    """Decode a keyframe and encode it as a JPEG (blocking: run it in an executor)."""
    decoder = (
        av.CodecContext.create("hevc", "r")
        if keyframe.codec is VideoCodec.H265
        else av.CodecContext.create("h264", "r")
    )
    try:
        frames = [*decoder.decode(av.Packet(keyframe.data)), *decoder.decode(None)]
    except av.FFmpegError as err:
        msg = f"The NVR sent a {keyframe.codec} keyframe that does not decode ({err})."
        raise IproCodecError(msg) from err
    pictures = [frame for frame in frames if isinstance(frame, av.VideoFrame)]
    if not pictures:
        msg = f"The NVR sent a {keyframe.codec} keyframe without a picture."
        raise IproCodecError(msg)
    picture = pictures[0]
    encoder = av.VideoCodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = picture.width, picture.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 1)
    encoder.options = {"flags": "+qscale", "global_quality": str(JPEG_QUALITY * _FF_QP2LAMBDA)}
    packets = [*encoder.encode(picture.reformat(format="yuvj420p")), *encoder.encode(None)]
    return bytes(packets[0])


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraMediaInfo:
    """What is known about one camera's live media, for diagnostics."""

    camera: int
    codec: VideoCodec | None
    has_jpeg: bool | None
    jpeg_streaming: bool
    video_streaming: bool


class _Changed:
    """Wakes every waiter when something changes (a new frame, the feed ending)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


class _Feed[T](ABC):
    """One camera's newest picture, from a stream kept open while pictures are wanted.

    The stream opens at the first request and stays open ``picture_idle`` seconds after
    the last one (and while anyone waits), so a dashboard refreshing every 10 s costs one
    START, not one per picture. A request that gives up does not stop the stream: the
    START it queued is still sent and serves the next request. The newest picture is
    kept when the stream closes and served while it is at most ``picture_max_age`` old,
    so a request never waits behind a START for a picture that recent.
    """

    def __init__(self, media: LiveMedia, camera: int) -> None:
        self._media = media
        self.camera = camera
        self.item: T | None = None
        self.number = 0
        self._error: IproError | None = None
        self._failures = 0
        self._taken = 0.0
        self._last_used = 0.0
        self._waiters = 0
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._changed = _Changed()

    @property
    def running(self) -> bool:
        """Return whether the stream is open or opening."""
        return self._task is not None

    def _want(self) -> None:
        self._last_used = asyncio.get_running_loop().time()
        if self._task is None:
            self._closing = False
            self._task = asyncio.create_task(
                self._guarded(), name=f"ipro live pictures camera {self.camera}"
            )

    def _wanted(self) -> bool:
        idle = asyncio.get_running_loop().time() - self._last_used
        return self._waiters > 0 or idle <= self._media.picture_idle

    async def _guarded(self) -> None:
        try:
            await self._run()
        except IproError as err:
            self._fail(err)
        finally:
            self._task = None
            self._changed.notify()

    @abstractmethod
    async def _run(self) -> None:
        """Open the stream and ``_put`` its pictures while ``_wanted``."""

    def _put(self, item: T) -> None:
        self.item = item
        self.number += 1
        self._taken = asyncio.get_running_loop().time()
        self._changed.notify()

    def _fail(self, err: IproError) -> None:
        """Hand the error to the requests waiting now."""
        self._error = err
        self._failures += 1
        self._changed.notify()

    async def next(self, after: int) -> tuple[int, T] | None:
        """Return a picture numbered above ``after``; ``None`` when the stream ended first.

        Raises the error the stream met while this request waited.
        """
        self._want()
        failures = self._failures
        self._waiters += 1
        try:
            while self.number <= after or self.item is None:
                if self._failures != failures:
                    assert self._error is not None
                    raise self._error
                if self._task is None:
                    return None
                await self._changed.wait()
        finally:
            self._waiters -= 1
        return self.number, self.item

    def recent(self) -> int:
        """Return the number a new reader waits above: the newest's, unless it is recent."""
        age = asyncio.get_running_loop().time() - self._taken
        recent = self.item is not None and age <= self._media.picture_max_age
        return self.number - 1 if recent else self.number

    async def latest(self) -> T | None:
        """Return the newest picture if recent enough, else wait for the next one."""
        result = await self.next(self.recent())
        return None if result is None else result[1]

    async def stop(self) -> None:
        """Close the stream (sending STOP); one already closing finishes its STOP."""
        if (task := self._task) is not None:
            if not self._closing:
                task.cancel()
            await asyncio.wait([task])


class _JpegFeed(_Feed[bytes]):
    """The camera's live JPEG stream; it ends at the placeholder of a camera without one.

    Until the camera showed whether it has a JPEG stream, its START waits for the other
    cameras' probes (``LiveMedia.probing``). A camera without one needs three commands in
    the 3 s lane (START and STOP of the placeholder, START of its video); queued all at
    once, the cameras of a dashboard would get their first pictures only after every
    camera's first two commands. One probe at a time, they come one by one.
    """

    def __init__(self, media: LiveMedia, camera: int) -> None:
        super().__init__(media, camera)
        self._probe: asyncio.Lock | None = None

    @override
    async def _run(self) -> None:
        media = self._media
        if media.has_jpeg(self.camera) is None:
            await media.probing.acquire()
            self._probe = media.probing
        try:
            async with media.client.live_jpeg(self.camera) as stream:
                try:
                    await self._read(aiter(stream))
                finally:
                    self._closing = True  # its STOP, queued on exit, must not be cancelled
        finally:
            self._end_probe()

    def _end_probe(self) -> None:
        if self._probe is not None:
            self._probe.release()
            self._probe = None

    async def _read(self, frames: AsyncIterator[JpegFrame]) -> None:
        media = self._media
        while self._wanted():
            try:
                async with asyncio.timeout(media.frame_timeout):
                    frame = await anext(frames, None)
            except TimeoutError:
                msg = f"Camera {self.camera} sent no picture in {media.frame_timeout:.0f} s."
                raise IproTimeoutError(msg) from None
            if frame is None:
                return
            if is_placeholder(frame.jpeg):
                media.no_jpeg(self.camera)
                return
            self._put(frame.jpeg)
            self._end_probe()


class _KeyframeFeed(_Feed[Keyframe]):
    """The keyframes of the camera's restreamed video (one NVR stream, shared with viewers).

    Waiting for a keyframe counts as a viewer of the restream, so the video stays open
    while pictures are wanted; the restreamer closes it its idle time later.
    """

    @override
    async def _run(self) -> None:
        media = self._media
        media.stream_url(self.camera)  # register the camera with the restreamer
        after = 0
        while self._wanted():
            try:
                keyframe = await media.restreamer.keyframe(self.camera, after=after)
            except IproTimeoutError as err:
                self._fail(err)  # the stream stays wanted: its START may still be queued
                continue
            after = keyframe.number
            self._put(keyframe)


class LiveMedia:
    """Live video, snapshots and MJPEG of every camera of one NVR (see module docstring)."""

    def __init__(
        self,
        client: LiveClient,
        *,
        picture_idle: float = 30.0,
        picture_max_age: float = 60.0,
        frame_timeout: float = 15.0,
        probe_timeout: float = 10.0,
        run_blocking: RunBlocking = _to_thread,
        **restream_options: Any,
    ) -> None:
        self.client = client
        self.picture_idle = picture_idle
        self.picture_max_age = picture_max_age
        self.frame_timeout = frame_timeout
        self.probe_timeout = probe_timeout
        self._run_blocking = run_blocking
        self.restreamer = Restreamer(self._video_source, **restream_options)
        self._feeds: dict[int, _JpegFeed] = {}
        self._keyframe_feeds: dict[int, _KeyframeFeed] = {}
        self.probing = asyncio.Lock()  # one camera's JPEG stream tried at a time (_JpegFeed)
        self._no_jpeg: set[int] = set()
        self._codecs: dict[int, VideoCodec] = {}
        self._confirmed: set[int] = set()
        self._wanted: dict[int, tuple[VideoCodec, bool]] = {}
        self._stills: dict[int, tuple[int, bytes]] = {}

    async def start(self) -> None:
        """Start the restream server."""
        await self.restreamer.start()

    async def stop(self) -> None:
        """Close every stream and the restream server."""
        feeds: list[_Feed[Any]] = [*self._feeds.values(), *self._keyframe_feeds.values()]
        await asyncio.gather(*(feed.stop() for feed in feeds))
        await self.restreamer.stop()

    async def release(self, camera: int) -> None:
        """Close the camera's streams (its entity goes away while the client is open)."""
        feeds: list[_Feed[Any] | None] = [
            self._feeds.pop(camera, None),
            self._keyframe_feeds.pop(camera, None),
        ]
        await asyncio.gather(*(feed.stop() for feed in feeds if feed is not None))
        await self.restreamer.release(camera)
        self._stills.pop(camera, None)

    # Video

    def configure(self, camera: int, codec: VideoCodec, *, audio: bool = False) -> None:
        """Set the codec to ask for first (and audio) before a camera's first use."""
        self._wanted[camera] = (codec, audio)

    def stream_url(self, camera: int) -> str:
        """Return the camera's restream URL (MPEG-TS over loopback HTTP)."""
        codec, audio = self._wanted.get(camera, (VideoCodec.H264, False))
        return self.restreamer.url(camera, codec, audio=audio)

    def codec(self, camera: int) -> VideoCodec | None:
        """Return the codec the camera was found to stream, ``None`` before it streamed."""
        return self._codecs.get(camera) if camera in self._confirmed else None

    @asynccontextmanager
    async def _video_source(
        self, camera: int, codec: VideoCodec, *, audio: bool = False
    ) -> AsyncIterator[AsyncIterator[LiveItem]]:
        """Open the NVR video for the restreamer, after the camera's JPEG stream closed."""
        if (feed := self._feeds.get(camera)) is not None:
            await feed.stop()
        ask = self._codecs.get(camera, codec)
        async with AsyncExitStack() as stack:
            try:
                stream = await stack.enter_async_context(self.client.live_video(camera, ask, audio))
            except IproError:
                if camera not in self._confirmed:
                    self._codecs[camera] = _other(ask)  # maybe the NVR refused the codec
                raise
            yield self._probe(camera, ask, stream)

    async def _probe(
        self, camera: int, asked: VideoCodec, stream: AsyncIterator[LiveItem]
    ) -> AsyncIterator[LiveItem]:
        """Pass the stream on, learning the camera's codec from its first keyframe.

        No keyframe in ``probe_timeout`` ends the connection; unless the camera's codec
        was seen before, the next one asks for the other codec.
        """
        items = aiter(stream)
        deadline = asyncio.get_running_loop().time() + self.probe_timeout
        found: VideoCodec | None = None
        while found is None:
            try:
                async with asyncio.timeout_at(deadline):
                    item = await anext(items, None)
            except TimeoutError:
                if camera not in self._confirmed:
                    self._codecs[camera] = _other(asked)
                wait = self.probe_timeout
                msg = f"Camera {camera} sent no keyframe in {wait:g} s of asking for {asked}."
                raise IproCodecError(msg) from None
            if item is None:
                return
            if isinstance(item, AccessUnit) and item.keyframe:
                found = detect_codec(item.data)
                if found is not None:
                    self._learn(camera, asked, found)
            yield item
        async for item in items:
            yield item

    def _learn(self, camera: int, asked: VideoCodec, found: VideoCodec) -> None:
        """Remember the codec a keyframe showed, to ask for it on the next connection."""
        self._codecs[camera] = found
        self._confirmed.add(camera)
        if found is not asked:
            _LOGGER.info(
                "Camera %s streams %s, not %s; asking for %s from now on",
                camera,
                found,
                asked,
                found,
            )

    # Pictures

    def has_jpeg(self, camera: int) -> bool | None:
        """Return whether the camera has a JPEG stream, ``None`` until it was asked."""
        if camera in self._no_jpeg:
            return False
        feed = self._feeds.get(camera)
        return True if feed is not None and feed.number else None

    def no_jpeg(self, camera: int) -> None:
        """Note that the camera answers JPEG requests with the placeholder."""
        if camera not in self._no_jpeg:
            self._no_jpeg.add(camera)
            _LOGGER.info(
                "Camera %s has no JPEG stream on the NVR (it answers with a %dx%d "
                "placeholder); its pictures come from its video stream",
                camera,
                *PLACEHOLDER_SIZE,
            )

    def _feed(self, camera: int) -> _JpegFeed:
        if (feed := self._feeds.get(camera)) is None:
            feed = self._feeds[camera] = _JpegFeed(self, camera)
        return feed

    def _keyframe_feed(self, camera: int) -> _KeyframeFeed:
        if (feed := self._keyframe_feeds.get(camera)) is None:
            feed = self._keyframe_feeds[camera] = _KeyframeFeed(self, camera)
        return feed

    def _use_video(self, camera: int) -> bool:
        return camera in self._no_jpeg or self.restreamer.is_active(camera)

    async def snapshot(self, camera: int) -> bytes:
        """Return the camera's current picture as a JPEG (info headers stripped).

        The newest picture of the camera's JPEG stream, or of its video's keyframes (see
        ``_Feed`` for how long those stay open and how old a picture may be).
        """
        if not self._use_video(camera):
            jpeg = await self._feed(camera).latest()
            if jpeg is not None:
                return jpeg
        keyframe = await self._keyframe_feed(camera).latest()
        assert keyframe is not None  # a keyframe feed runs while anyone waits for it
        return await self._decode(camera, keyframe)

    async def _decode(self, camera: int, keyframe: Keyframe) -> bytes:
        """Return the keyframe as a JPEG, decoded once."""
        cached = self._stills.get(camera)
        if cached is not None and cached[0] == keyframe.number:
            return cached[1]
        jpeg = await self._run_blocking(lambda: keyframe_to_jpeg(keyframe))
        self._stills[camera] = (keyframe.number, jpeg)
        return jpeg

    async def frames(self, camera: int) -> AsyncGenerator[bytes]:
        """Yield the camera's pictures as they come, for an MJPEG stream.

        From the JPEG stream at its frame rate when it can run; else one picture per
        keyframe of the video.
        """
        feed = self._feed(camera)
        number = feed.recent()
        while not self._use_video(camera):
            result = await feed.next(number)
            if result is None:
                break  # the video took the camera over, or it has no JPEG
            number, jpeg = result
            yield jpeg
        keyframes = self._keyframe_feed(camera)
        number = keyframes.recent()
        while True:
            found = await keyframes.next(number)
            assert found is not None  # a keyframe feed runs while anyone waits for it
            number, keyframe = found
            yield await self._decode(camera, keyframe)

    def diagnostics(self, camera: int) -> dict[str, Any]:
        """Return a camera's media state as plain data (codec found, JPEG, restream)."""
        stats = self.restreamer.stats(camera)
        restream = None
        if stats is not None:
            restream = asdict(stats)
            # Error texts name the NVR's address, which diagnostics must not show.
            restream["last_error"] = stats.last_error is not None
        return {**asdict(self.info(camera)), "restream": restream}

    def info(self, camera: int) -> CameraMediaInfo:
        """Return what is known about a camera's live media."""
        feed = self._feeds.get(camera)
        return CameraMediaInfo(
            camera=camera,
            codec=self.codec(camera),
            has_jpeg=self.has_jpeg(camera),
            jpeg_streaming=feed is not None and feed.running,
            video_streaming=self.restreamer.is_active(camera),
        )
