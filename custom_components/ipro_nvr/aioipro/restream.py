"""Restream the NVR's live video as MPEG-TS over HTTP on the loopback interface.

The NVR allows 16 live streams per session and degrades under many, and Home Assistant,
go2rtc and the frontend all want a URL they can open as often as they like. The
restreamer turns that around: one NVR stream per camera, started by the first viewer and
stopped an idle period after the last one left, remuxed to MPEG-TS by PyAV and fanned out
to every viewer at ``http://127.0.0.1:<port>/<token>/<camera>.ts``. The token is random
per restreamer, so only who was given the URL can watch.

Time stamps: output time starts at 0 with the first keyframe, follows the RTP 90 kHz
deltas (32-bit wrap included), and stays strictly increasing through repeated, backward
or jumping stamps and through reconnects, which advance it by the wall-clock gap (at most
``MAX_RECONNECT_GAP``). Live cameras send no B-frames, so PTS equals DTS. Audio has no
time stamps over HTTP: its frames are counted (1024 samples at 48 kHz) from the video time
they arrived at, and re-anchored when they drift more than a second away.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, suppress
from dataclasses import dataclass
import logging
import secrets
from types import TracebackType
from typing import Final, Protocol, Self

from aiohttp import hdrs, web

from .errors import IproBusyError, IproError, IproProtocolError, IproTimeoutError
from .models import AccessUnit, AudioCodec, AudioFrame, VideoCodec
from .muxer import (
    AAC_FRAME_TICKS,
    TsChunk,
    TsMuxer,
    aac_channels,
    adts_frame,
    annexb,
    detect_codec,
    has_all_parameter_sets,
    inspect_keyframe,
    is_adts,
)

_LOGGER = logging.getLogger(__name__)

CLOCK_RATE: Final = 90000
MAX_STREAMS: Final = 16
"""Live streams one session (UID) may carry."""
MAX_FRAME_STEP: Final = 10 * CLOCK_RATE
"""A larger RTP step than this is a discontinuity, not a slow frame rate."""
MAX_RECONNECT_GAP: Final = 10 * CLOCK_RATE
"""Output time skipped over an outage at most; Home Assistant rejects gaps over 30 s."""
DEFAULT_FRAME_STEP: Final = CLOCK_RATE // 30
AUDIO_RESYNC: Final = CLOCK_RATE
CONTENT_TYPE: Final = "video/mp2t"
_WRITE_BATCH: Final = 256 * 1024

type LiveItem = AccessUnit | AudioFrame


class LiveSource(Protocol):
    """Opens one camera's live stream; ``IproClient.live_video`` in production."""

    def __call__(
        self, camera: int, codec: VideoCodec, *, audio: bool = False
    ) -> AbstractAsyncContextManager[AsyncIterator[LiveItem]]:
        """Return a context manager whose value yields access units and audio frames."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSettings:
    """What to ask the NVR for."""

    codec: VideoCodec = VideoCodec.H264
    audio: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamStats:
    """A snapshot of one camera's restream, for diagnostics and tests."""

    camera: int
    requested_codec: VideoCodec
    codec: VideoCodec | None
    audio_requested: bool
    audio: bool
    running: bool
    viewers: int
    connects: int
    keyframes: int
    skips: int
    bytes_out: int
    last_error: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Keyframe:
    """The latest keyframe of a camera's stream, decodable alone (parameter sets included).

    ``number`` counts the stream's keyframes, so a caller can wait for a newer one.
    """

    codec: VideoCodec
    data: bytes
    number: int


class _Timeline:
    """Maps one camera's RTP video stamps onto the output clock (see module docstring)."""

    def __init__(self) -> None:
        self.last: int | None = None
        self._rtp = 0
        self._step = DEFAULT_FRAME_STEP
        self._lost_at: float | None = None

    def start(self, rtp: int, now: float) -> int:
        """Place the first keyframe of a connection; later frames follow its RTP stamp."""
        if self.last is None:
            pts = 0
        else:
            gap = self._step if self._lost_at is None else (now - self._lost_at) * CLOCK_RATE
            pts = self.last + int(min(max(gap, self._step), MAX_RECONNECT_GAP))
        self._rtp = rtp
        self._lost_at = None
        self.last = pts
        return pts

    def next(self, rtp: int) -> int:
        """Return the output time of the next frame of the same connection."""
        assert self.last is not None
        delta = (rtp - self._rtp) & 0xFFFFFFFF
        self._rtp = rtp
        if 0 < delta <= MAX_FRAME_STEP:
            self._step = delta
        else:
            delta = self._step
        self.last += delta
        return self.last

    def lost(self, now: float) -> None:
        """Note when the connection dropped, to size the gap before the next one."""
        if self._lost_at is None:
            self._lost_at = now


class _Viewer:
    """One HTTP client's bounded backlog.

    A viewer that falls more than ``limit`` bytes behind loses its backlog and waits for
    the next keyframe, so a stalled client costs at most ``limit`` bytes and never slows
    the others.
    """

    def __init__(self, limit: int) -> None:
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit
        self._waiting_for_gop = True
        self._wakeup = asyncio.Event()
        self.closed = False
        self.skips = 0

    def offer(self, chunk: TsChunk) -> None:
        """Queue a chunk, or drop the backlog when it would grow past the limit."""
        if self.closed:
            return
        size = len(chunk.data)
        if self._size + size > self._limit:
            if self._chunks:
                self.skips += 1
            self._chunks.clear()
            self._size = 0
            self._waiting_for_gop = True
        if chunk.gop_start:
            self._waiting_for_gop = False
        elif self._waiting_for_gop:
            return
        self._chunks.append(chunk.data)
        self._size += size
        self._wakeup.set()

    def close(self) -> None:
        """End the viewer's response once its backlog is sent."""
        self.closed = True
        self._wakeup.set()

    async def read(self) -> bytes | None:
        """Wait for queued bytes (up to a batch); ``None`` once closed and drained."""
        while not self._chunks:
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()
        batch: list[bytes] = []
        total = 0
        while self._chunks and total < _WRITE_BATCH:
            data = self._chunks.popleft()
            batch.append(data)
            total += len(data)
        self._size -= total
        return b"".join(batch)


class _Hold(_Viewer):
    """A viewer that keeps the NVR stream open but takes no bytes (keyframe users)."""

    def offer(self, chunk: TsChunk) -> None:
        """Take nothing."""


class _CameraStream:
    """One camera: the NVR connection, its muxer, the current GOP and the viewers."""

    def __init__(self, owner: Restreamer, camera: int, settings: StreamSettings) -> None:
        self._owner = owner
        self.camera = camera
        self.settings = settings
        self.viewers: set[_Viewer] = set()
        self.idle_since: float = 0.0
        self._task: asyncio.Task[None] | None = None
        self._stopping: asyncio.Task[None] | None = None
        self._idle_timer: asyncio.TimerHandle | None = None
        self._timeline = _Timeline()
        self._muxer: TsMuxer | None = None
        self._gop: list[bytes] = []
        self._gop_size = 0
        self._parameter_sets: tuple[bytes, ...] = ()
        self._codec: VideoCodec | None = None
        self._held: list[tuple[bytes, int, bool]] = []
        self._synced = False
        self._audio_seen = False
        self._audio_channels: int | None = None
        self._audio_next: int | None = None
        self._audio_last = -1
        self._connects = 0
        self._keyframes = 0
        self._skips = 0
        self._bytes_out = 0
        self._last_error: str | None = None
        self._failing = False
        self.keyframe: Keyframe | None = None
        self._new_keyframe = asyncio.Event()

    @property
    def active(self) -> bool:
        """Return whether the NVR stream is wanted: open, opening or reconnecting."""
        return self._task is not None

    @property
    def closing(self) -> asyncio.Task[None] | None:
        """Return the task still closing a previous NVR stream, if any."""
        if self._stopping is None or self._stopping.done():
            return None
        return self._stopping

    def stats(self) -> StreamStats:
        """Return a snapshot of the stream's state."""
        return StreamStats(
            camera=self.camera,
            requested_codec=self.settings.codec,
            codec=self._codec,
            audio_requested=self.settings.audio,
            audio=self._muxer is not None and self._muxer.has_audio,
            running=self.active,
            viewers=len(self.viewers),
            connects=self._connects,
            keyframes=self._keyframes,
            skips=self._skips + sum(viewer.skips for viewer in self.viewers),
            bytes_out=self._bytes_out,
            last_error=self._last_error,
        )

    # Viewers

    def attach(self, wait_for: list[asyncio.Task[None]], *, hold: bool = False) -> _Viewer:
        """Add a viewer, primed with the current GOP, and start the NVR stream if needed."""
        viewer = _Hold(0) if hold else _Viewer(self._owner.viewer_buffer)
        for index, data in enumerate(self._gop):
            viewer.offer(TsChunk(data, gop_start=index == 0))
        self.viewers.add(viewer)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        if self._task is None:
            self._task = asyncio.create_task(
                self._run(wait_for), name=f"ipro restream camera {self.camera}"
            )
        return viewer

    def detach(self, viewer: _Viewer) -> None:
        """Remove a viewer; the NVR stream stops after the idle time with none left."""
        self._skips += viewer.skips
        viewer.skips = 0
        self.viewers.discard(viewer)
        if self.viewers or self._task is None:
            return
        loop = asyncio.get_running_loop()
        self.idle_since = loop.time()
        if self._idle_timer is None:
            self._idle_timer = loop.call_later(self._owner.idle_timeout, self._idle_expired)

    def _idle_expired(self) -> None:
        self._idle_timer = None
        if not self.viewers:
            _LOGGER.debug("Camera %s: no viewer left, stopping its live stream", self.camera)
            self.stop()

    def stop(self) -> asyncio.Task[None] | None:
        """Close the viewers and the NVR stream; return the task finishing the close.

        Viewers arriving while the close finishes get the next stream only: the cached
        GOP goes now, and the closing task touches no viewer.
        """
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        for viewer in self.viewers:
            viewer.close()
        self._gop = []
        self._gop_size = 0
        self.keyframe = None
        if self._task is not None:
            self._task.cancel()
            self._stopping = self._task
            self._task = None
        return self._stopping

    # Upstream

    async def _run(self, wait_for: list[asyncio.Task[None]]) -> None:
        """Keep the NVR stream open, reconnecting with backoff, until cancelled."""
        if wait_for:
            await asyncio.wait(wait_for)
        owner = self._owner
        delay = owner.reconnect_delay
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._connects += 1
                keyframes = self._keyframes
                try:
                    async with owner.source(
                        self.camera, self.settings.codec, audio=self.settings.audio
                    ) as items:
                        async for item in items:
                            self._feed(item)
                    self._note_failure("the NVR ended the stream")
                except IproError as err:
                    self._note_failure(str(err))
                except Exception as err:  # a muxer or parser fault must not end the restream
                    _LOGGER.exception("Camera %s: live stream failed", self.camera)
                    self._note_failure(repr(err))
                self._disconnected(loop.time())
                if self._keyframes > keyframes:
                    delay = owner.reconnect_delay
                await asyncio.sleep(delay)
                delay = min(delay * 2, owner.max_reconnect_delay)
        finally:
            self._shutdown()

    def _note_failure(self, reason: str) -> None:
        self._last_error = reason
        if self._failing:
            _LOGGER.debug("Camera %s: live stream still down: %s", self.camera, reason)
        else:
            _LOGGER.warning(
                "Camera %s: live stream interrupted, reconnecting: %s", self.camera, reason
            )
        self._failing = True

    def _disconnected(self, now: float) -> None:
        """Forget the connection's state; the next one must start at a keyframe."""
        self._timeline.lost(now)
        self._synced = False
        self._audio_seen = False
        self._audio_next = None
        self._flush_held()

    def _shutdown(self) -> None:
        """Release the muxer and start the next stream from scratch."""
        self._held = []
        if self._muxer is not None:
            self._muxer.close()  # its last bytes belong to viewers already ended
            self._muxer = None
        self._timeline = _Timeline()
        self._synced = False
        self._audio_next = None
        self._audio_last = -1

    async def next_keyframe(self, after: int) -> Keyframe:
        """Return the latest keyframe once its number is above ``after``."""
        while self.keyframe is None or self.keyframe.number <= after:
            await self._new_keyframe.wait()
        return self.keyframe

    def _feed(self, item: LiveItem) -> None:
        if isinstance(item, AudioFrame):
            self._feed_audio(item)
        else:
            self._feed_video(item)

    def _feed_video(self, unit: AccessUnit) -> None:
        data = unit.data
        if not self._synced:
            if not unit.keyframe:
                return
            codec = detect_codec(data)
            if codec is None:
                return  # joined mid-GOP: no parameter sets before the next IDR
            if codec is not unit.codec:
                _LOGGER.debug("Camera %s sends %s labelled %s", self.camera, codec, unit.codec)
            if codec is not self._codec:
                self._switch_codec(codec)
            pts = self._timeline.start(unit.timestamp, asyncio.get_running_loop().time())
            self._synced = True
            if self._failing:
                _LOGGER.info("Camera %s: live stream restored", self.camera)
                self._failing = False
        else:
            if unit.keyframe and (codec := detect_codec(data)) not in (None, self._codec):
                _LOGGER.info("Camera %s changed its codec to %s", self.camera, codec)
                self._switch_codec(codec)
            pts = self._timeline.next(unit.timestamp)
        assert self._codec is not None
        if unit.keyframe:
            self._keyframes += 1
            found = inspect_keyframe(self._codec, data).parameter_sets
            if has_all_parameter_sets(self._codec, found):
                self._parameter_sets = found
            elif self._parameter_sets:
                # Repeat the last parameter sets so a viewer can start at any keyframe.
                data = annexb(self._parameter_sets) + data
            self.keyframe = Keyframe(codec=self._codec, data=data, number=self._keyframes)
            self._new_keyframe.set()
            self._new_keyframe = asyncio.Event()
        if self._muxer is None:
            self._held.append((data, pts, unit.keyframe))
            if (
                not self.settings.audio
                or self._audio_seen
                or pts - self._held[0][1] >= self._owner.audio_wait * CLOCK_RATE
            ):
                self._flush_held()
            return
        self._publish(self._muxer.video(data, pts, keyframe=unit.keyframe))

    def _switch_codec(self, codec: VideoCodec) -> None:
        """Start over for a new codec: viewers cannot follow a changed PMT.

        Their responses end after the old stream's last pictures, so that players (Home
        Assistant's stream worker) open the URL again and get a new stream from the new
        codec's first keyframe, without a new NVR stream. Pictures still held back for a
        muxer not yet made are of the old codec: they go.
        """
        self._held = []
        if self._muxer is not None:
            self._publish(self._muxer.close())
            self._muxer = None
            for viewer in self.viewers:
                viewer.close()
        self._codec = codec
        self._parameter_sets = ()
        self._gop = []
        self._gop_size = 0

    def _flush_held(self) -> None:
        """Create the muxer once it is known whether audio flows, and mux what waited."""
        if not self._held:
            return
        assert self._codec is not None
        if self._muxer is None:
            self._muxer = TsMuxer(self._codec, audio=self.settings.audio and self._audio_seen)
        held, self._held = self._held, []
        for data, pts, keyframe in held:
            self._publish(self._muxer.video(data, pts, keyframe=keyframe))

    def _feed_audio(self, frame: AudioFrame) -> None:
        if frame.codec is not AudioCodec.AAC_LC or not self.settings.audio:
            return
        self._audio_seen = True
        video_now = self._timeline.last
        if not self._synced or video_now is None:
            return
        if is_adts(frame.data):
            data = frame.data
        else:
            if self._audio_channels is None:
                self._audio_channels = aac_channels(frame.data)
                if self._audio_channels is None:
                    return  # a fill or priming frame cannot tell mono from stereo
            try:
                data = adts_frame(frame.data, self._audio_channels)
            except IproProtocolError as err:
                _LOGGER.debug("Camera %s: dropped an audio frame: %s", self.camera, err)
                return
        self._flush_held()
        if self._audio_next is None or abs(self._audio_next - video_now) > AUDIO_RESYNC:
            self._audio_next = video_now
        pts = max(self._audio_next, self._audio_last + 1)
        self._audio_next = pts + AAC_FRAME_TICKS
        self._audio_last = pts
        assert self._muxer is not None
        self._publish(self._muxer.audio(data, pts))

    def _publish(self, chunks: list[TsChunk]) -> None:
        """Keep the current GOP for new viewers and hand every chunk to every viewer."""
        cache_limit = self._owner.gop_cache
        for chunk in chunks:
            size = len(chunk.data)
            self._bytes_out += size
            if chunk.gop_start:
                self._gop = [chunk.data] if size <= cache_limit else []
                self._gop_size = size
            elif self._gop:
                if self._gop_size + size > cache_limit:
                    self._gop = []  # too long to replay: new viewers wait for a keyframe
                else:
                    self._gop.append(chunk.data)
                    self._gop_size += size
            for viewer in self.viewers:
                viewer.offer(chunk)


class Restreamer:
    """Serves each camera's live video once from the NVR to any number of local viewers.

    ``source`` opens an NVR stream (``client.live_video``); ``url`` registers a camera
    and returns its address. Tests and benchmarks inject any source yielding
    ``AccessUnit``/``AudioFrame`` items.
    """

    def __init__(
        self,
        source: LiveSource,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        max_streams: int = MAX_STREAMS,
        idle_timeout: float = 10.0,
        reconnect_delay: float = 1.0,
        max_reconnect_delay: float = 30.0,
        viewer_buffer: int = 8 * 1024 * 1024,
        gop_cache: int = 4 * 1024 * 1024,
        audio_wait: float = 0.5,
        keyframe_timeout: float = 20.0,
    ) -> None:
        self.source = source
        self.host = host
        self.max_streams = max_streams
        self.idle_timeout = idle_timeout
        self.reconnect_delay = reconnect_delay
        self.max_reconnect_delay = max_reconnect_delay
        self.viewer_buffer = viewer_buffer
        self.gop_cache = gop_cache
        self.audio_wait = audio_wait
        self.keyframe_timeout = keyframe_timeout
        self._port = port
        self._token = secrets.token_urlsafe(32)
        self._streams: dict[int, _CameraStream] = {}
        self._runner: web.AppRunner | None = None
        self._claimed: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """Return the port the server listens on (after ``start``)."""
        if self._runner is None:
            msg = "The restreamer is not started"
            raise RuntimeError(msg)
        return self._port

    async def start(self) -> None:
        """Listen on ``host`` (a free port when ``port`` was 0)."""
        if self._runner is not None:
            return
        app = web.Application()
        app.router.add_get(r"/{token}/{camera:\d+}.ts", self._handle)
        # Cancel a viewer's handler as soon as it hangs up, even while no data flows.
        runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=1.0, handler_cancellation=True
        )
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        self._port = runner.addresses[0][1]
        self._runner = runner

    async def stop(self) -> None:
        """Stop every NVR stream, end every viewer and close the server."""
        tasks = [task for stream in self._streams.values() if (task := stream.stop())]
        if tasks:
            await asyncio.wait(tasks)
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    def url(self, camera: int, codec: VideoCodec = VideoCodec.H264, *, audio: bool = False) -> str:
        """Register ``camera`` with the stream it should get and return its URL.

        Changed settings take effect at once: a running stream ends its viewers, who
        reconnect to the new one.
        """
        settings = StreamSettings(codec=codec, audio=audio)
        stream = self._streams.get(camera)
        if stream is None:
            self._streams[camera] = _CameraStream(self, camera, settings)
        elif stream.settings != settings:
            stream.stop()
            stream.settings = settings
        return f"http://{self.host}:{self.port}/{self._token}/{camera}.ts"

    async def release(self, camera: int) -> None:
        """Stop the camera's NVR stream, end its viewers and forget its URL."""
        stream = self._streams.pop(camera, None)
        if stream is not None and (task := stream.stop()) is not None:
            await asyncio.wait([task])

    def stats(self, camera: int) -> StreamStats | None:
        """Return the state of a registered camera's restream."""
        stream = self._streams.get(camera)
        return None if stream is None else stream.stats()

    def is_active(self, camera: int) -> bool:
        """Return whether the camera's NVR stream is open (or opening, or reconnecting)."""
        stream = self._streams.get(camera)
        return stream is not None and stream.active

    async def keyframe(self, camera: int, *, after: int = 0) -> Keyframe:
        """Return the camera's latest keyframe numbered above ``after``, for a still image.

        The NVR stream is started if needed and counts this wait as a viewer, so it stays
        open for the idle time afterwards and repeated stills reuse it. Register the
        camera with ``url`` first. Raises ``IproBusyError`` when every stream has viewers
        and ``IproTimeoutError`` when no keyframe comes in ``keyframe_timeout`` seconds.
        """
        timeout = self.keyframe_timeout
        stream = self._streams[camera]
        wait_for = self._slot_for(stream)
        if wait_for is None:
            msg = f"All {self.max_streams} live streams are in use; close a camera view first."
            raise IproBusyError(msg)
        hold = stream.attach(wait_for, hold=True)
        try:
            async with asyncio.timeout(timeout):
                return await stream.next_keyframe(after)
        except TimeoutError as err:
            msg = f"Camera {camera} sent no picture in {timeout:.0f} s."
            raise IproTimeoutError(msg) from err
        finally:
            stream.detach(hold)

    def detected_codec(self, camera: int) -> VideoCodec | None:
        """Return the codec the camera's stream actually carried, once it started."""
        stats = self.stats(camera)
        return None if stats is None else stats.codec

    def _slot_for(self, stream: _CameraStream) -> list[asyncio.Task[None]] | None:
        """Find room for one more NVR stream, evicting the longest-idle one if needed.

        A stream still closing holds its NVR stream until its STOP is sent, so it counts
        until a starting stream claims it and waits for it. Returns the closes to wait
        for, or ``None`` when every stream has viewers.
        """
        if stream.active:
            return []
        self._claimed = {task for task in self._claimed if not task.done()}
        own = stream.closing
        if own is not None:
            self._claimed.add(own)
            return [own]
        closing = [
            task
            for other in self._streams.values()
            if (task := other.closing) is not None and task not in self._claimed
        ]
        active = [other for other in self._streams.values() if other.active]
        if len(active) + len(closing) < self.max_streams:
            return []
        if not closing:
            idle = sorted(
                (other for other in active if not other.viewers),
                key=lambda other: other.idle_since,
            )
            if not idle:
                return None
            idle[0].stop()
            closing = [task for task in (idle[0].closing,) if task is not None]
        self._claimed.add(closing[0])
        return closing[:1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Stream one camera's MPEG-TS to one viewer."""
        if not secrets.compare_digest(request.match_info["token"], self._token):
            raise web.HTTPNotFound
        stream = self._streams.get(int(request.match_info["camera"]))
        if stream is None:
            raise web.HTTPNotFound
        wait_for = self._slot_for(stream)
        if wait_for is None:
            raise web.HTTPServiceUnavailable(
                text=f"All {self.max_streams} live streams are in use",
                headers={hdrs.RETRY_AFTER: "10"},
            )
        viewer = stream.attach(wait_for)
        response = web.StreamResponse(
            headers={hdrs.CONTENT_TYPE: CONTENT_TYPE, hdrs.CACHE_CONTROL: "no-store"}
        )
        try:
            await response.prepare(request)
            with suppress(ConnectionError):  # the viewer hung up while we wrote
                while (data := await viewer.read()) is not None:
                    await response.write(data)
        finally:
            stream.detach(viewer)
        return response
