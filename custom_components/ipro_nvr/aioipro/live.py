"""Live streams: async context managers that START on entry and STOP on exit.

All live streams of a client share one UID (the NVR carries up to 16 streams on a UID,
one per camera). Each stream is an async iterator over a bounded buffer filled by a
reader task that drains the socket continuously.

Slow consumers: the buffer never blocks the reader (backpressure would stall the
NVR's sender and, with it, every stream it serves). When the buffer is full the stream
drops everything queued and skips to the next keyframe, so a consumer that falls behind
jumps back to live with a decodable picture instead of growing memory or lagging more
and more; ``dropped`` counts what it lost. A video stream also starts at a keyframe (a
stream joined mid-GOP cannot be decoded before one). For JPEG every frame is a keyframe,
so an overflow keeps just the newest frame.

Video is depacketized by each RTP packet's payload type, not by the codec asked for: an
NVR may answer ``COMP=H264`` with its camera's own codec (PT 98 H.264, 101 H.265), and
each ``AccessUnit.codec`` says which it is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
import asyncio
from collections import deque
from collections.abc import Callable, Iterable
import logging
import socket
from types import TracebackType
from typing import Final, Protocol, Self

import aiohttp

from . import commands
from .audio import parse_live_audio
from .errors import IproBusyError, IproConnectionError, IproError, IproProtocolError
from .h26x import Depacketizer, depacketizer_for
from .jpeg import parse_live_jpeg
from .models import AccessUnit, AudioFrame, JpegFrame, RtpPacket, VideoCodec
from .multipart import Part, boundary_from_content_type, iter_parts
from .rtp import PAYLOAD_TYPE_AUDIO, PAYLOAD_TYPE_H264, PAYLOAD_TYPE_H265, parse_rtp
from .session import SessionRole
from .transport import Transport

_LOGGER = logging.getLogger(__name__)

DEFAULT_VIDEO_QUEUE: Final = 64
DEFAULT_JPEG_QUEUE: Final = 4
AUDIO_COMP: Final = "AUDIO"


MAX_LIVE_STREAMS: Final = 16

_PAYLOAD_CODECS: Final = {
    PAYLOAD_TYPE_H264: VideoCodec.H264,
    PAYLOAD_TYPE_H265: VideoCodec.H265,
}


class PayloadTypeDepacketizer:
    """Depacketizes video with the depacketizer its payload type names, switching as it does.

    Audio packets (PT 97) are not video and are skipped. A payload type the notes do not
    name is taken as the codec asked for, the best guess there is. When the codec changes
    in the middle of a stream, a fresh depacketizer starts and nothing is passed on
    before its first keyframe: pictures of the new codec cannot be decoded without it.
    """

    def __init__(self, requested: VideoCodec) -> None:
        self._requested = requested
        self._depacketizer: Depacketizer | None = None
        self._await_keyframe = False

    def push(self, packet: RtpPacket) -> list[AccessUnit]:
        """Add a packet; return the access units it completed (usually zero or one)."""
        if packet.payload_type == PAYLOAD_TYPE_AUDIO:
            return []
        codec = _PAYLOAD_CODECS.get(packet.payload_type, self._requested)
        if self._depacketizer is None or codec is not self._depacketizer.codec:
            self._await_keyframe = self._depacketizer is not None
            self._depacketizer = depacketizer_for(codec)
        units = self._depacketizer.push(packet)
        if self._await_keyframe:
            while units and not units[0].keyframe:
                del units[0]
            self._await_keyframe = not units
        return units


class Abortable(Protocol):
    """What the hub needs to end a stream when the client closes."""

    def abort(self) -> None:
        """Stop reading at once, without sending STOP."""


class LiveHub:
    """The one live UID of a client and the streams it carries (one per camera)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.session = transport.new_session(SessionRole.LIVE)
        self._streams: dict[int, Abortable] = {}

    def __len__(self) -> int:
        return len(self._streams)

    def register(self, camera: int, stream: Abortable) -> None:
        """Claim the camera's slot on the live UID; the UID is kept alive while used."""
        if camera in self._streams:
            raise IproBusyError(
                f"Camera {camera} already streams live on this client; one UID carries "
                "one stream per camera, so reuse the open stream."
            )
        if len(self._streams) >= MAX_LIVE_STREAMS:
            raise IproBusyError(
                f"{MAX_LIVE_STREAMS} live streams are open already; stop one first."
            )
        self._streams[camera] = stream
        self.session.users += 1

    def unregister(self, camera: int, stream: Abortable) -> None:
        """Free the camera's slot."""
        if self._streams.get(camera) is stream:
            del self._streams[camera]
            self.session.users -= 1

    def abort_all(self) -> None:
        """End every stream without STOP (the UID is about to be logged out)."""
        for stream in list(self._streams.values()):
            stream.abort()
        self._streams.clear()
        self.session.users = 0


class DropBuffer[T]:
    """A bounded queue that skips to the next keyframe instead of blocking or growing."""

    def __init__(self, maxsize: int, *, start_at_keyframe: bool) -> None:
        if maxsize < 1:
            raise ValueError("the buffer must hold at least one item")
        self._maxsize = maxsize
        self._items: deque[T] = deque()
        self._ready = asyncio.Event()
        self._skipping = start_at_keyframe
        self._ended = False
        self._error: BaseException | None = None
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: T, keyframe: bool) -> None:
        """Queue ``item``; on overflow drop the queue and wait for a keyframe."""
        if self._ended:
            return
        if self._skipping and not keyframe:
            self.dropped += 1
            return
        if len(self._items) >= self._maxsize:
            self.dropped += len(self._items)
            self._items.clear()
            if not keyframe:
                self._skipping = True
                self.dropped += 1
                return
        self._skipping = False
        self._items.append(item)
        self._ready.set()

    def end(self, error: BaseException | None = None) -> None:
        """End the stream after the queued items; ``error`` is raised to the consumer."""
        if not self._ended:
            self._ended = True
            self._error = error
            self._ready.set()

    async def get(self) -> T:
        """Return the next item; raise ``StopAsyncIteration`` (or the error) at the end."""
        while not self._items:
            if self._ended:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()


class LiveStream[T](ABC):
    """Common life cycle: register the camera, START, read into a buffer, STOP."""

    def __init__(self, hub: LiveHub, camera: int, buffer: DropBuffer[T]) -> None:
        self._hub = hub
        self._transport = hub.transport
        self._session = hub.session
        self.camera = camera
        self._buffer = buffer
        self._tasks: list[asyncio.Task[None]] = []
        self._responses: list[aiohttp.ClientResponse] = []
        self._stops: list[tuple[commands.CgiCommand, str | None]] = []
        """What to send on exit, and the UID that what it stops was started on."""
        self._closed = False
        self.skipped_parts = 0

    @property
    def dropped(self) -> int:
        """Return how many items a slow consumer lost (see the module docstring)."""
        return self._buffer.dropped

    async def __aenter__(self) -> Self:
        self._hub.register(self.camera, self)
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> T:
        return await self._buffer.get()

    @abstractmethod
    async def _start(self) -> None:
        """Send the START request(s) and start the readers."""

    async def _open(
        self, start: commands.CgiCommand, stop: commands.CgiCommand
    ) -> aiohttp.ClientResponse:
        """Send a START; remember its STOP so exit undoes exactly what was started."""
        response = await self._transport.open_stream(start, self._session)
        self._stops.append((stop, self._session.uid))
        self._responses.append(response)
        return response

    def _spawn(
        self,
        response: aiohttp.ClientResponse,
        handle: Callable[[Part], Iterable[tuple[T, bool]]],
        *,
        ends_stream: bool,
    ) -> None:
        task = asyncio.create_task(
            self._read(response, handle, ends_stream=ends_stream),
            name=f"ipro live camera {self.camera}",
        )
        self._tasks.append(task)

    async def _read(
        self,
        response: aiohttp.ClientResponse,
        handle: Callable[[Part], Iterable[tuple[T, bool]]],
        *,
        ends_stream: bool,
    ) -> None:
        """Drain one multipart response into the buffer until it ends."""
        boundary = boundary_from_content_type(response.headers.get("Content-Type"))
        error: BaseException | None = None
        try:
            async for part in iter_parts(response.content, boundary):
                try:
                    for item, keyframe in handle(part):
                        self._buffer.put(item, keyframe)
                except IproProtocolError as err:
                    self.skipped_parts += 1
                    _LOGGER.debug("Camera %s: skipped a bad part: %s", self.camera, err)
        except IproError as err:
            error = err
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            error = IproConnectionError(
                f"The live stream of camera {self.camera} from {self._transport.where} "
                f"broke ({type(err).__name__}); check the network and the NVR."
            )
        if ends_stream:
            self._buffer.end(error)
        elif error is not None:
            _LOGGER.warning("Camera %s: the audio stream ended: %s", self.camera, error)

    def _release(self) -> None:
        for task in self._tasks:
            task.cancel()
        for response in self._responses:
            response.close()
        self._responses.clear()

    def abort(self) -> None:
        """Stop reading at once without STOP (the client is closing its sessions)."""
        self._closed = True
        self._release()
        self._buffer.end()

    async def aclose(self) -> None:
        """Stop reading, send STOP for what was started, free the camera's slot.

        No STOP goes to a UID found lost meanwhile (an NVR reboot, an eviction): the
        stream ended with it, and the slot is better spent on the restart.
        """
        if self._closed:
            return
        self._closed = True
        self._release()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._buffer.end()
        try:
            for stop, uid in reversed(self._stops):
                await self._transport.send_quiet(stop, self._session, uid)
        finally:
            self._hub.unregister(self.camera, self)


class LiveVideoStream(LiveStream[AccessUnit | AudioFrame]):
    """Live H.264/H.265 over HTTP(S): RTP packets in multipart parts, audio alongside."""

    def __init__(
        self,
        hub: LiveHub,
        camera: int,
        *,
        codec: VideoCodec,
        audio: bool,
        max_queue: int = DEFAULT_VIDEO_QUEUE,
    ) -> None:
        super().__init__(hub, camera, DropBuffer(max_queue, start_at_keyframe=True))
        self.codec = codec
        self.audio = audio
        self._depacketizer = PayloadTypeDepacketizer(codec)

    async def _start(self) -> None:
        video = await self._open(
            commands.push_http(self.camera, True, self.codec),
            commands.push_http(self.camera, False, self.codec),
        )
        self._spawn(video, self._video_items, ends_stream=True)
        if self.audio:
            # The spec allows audio only after video has started. A camera without audio
            # makes the NVR refuse it: the video goes on alone, ``audio`` turns False.
            try:
                audio = await self._open(
                    commands.push_http(self.camera, True, AUDIO_COMP),
                    commands.push_http(self.camera, False, AUDIO_COMP),
                )
            except (IproProtocolError, IproBusyError) as err:
                _LOGGER.warning("Camera %s streams without audio: %s", self.camera, err)
                self.audio = False
            else:
                self._spawn(audio, self._audio_items, ends_stream=False)

    def _video_items(self, part: Part) -> Iterable[tuple[AccessUnit | AudioFrame, bool]]:
        if part.content_type.startswith("audio/"):
            return self._audio_items(part)
        return [(au, au.keyframe) for au in self._depacketizer.push(parse_rtp(part.body))]

    def _audio_items(self, part: Part) -> Iterable[tuple[AccessUnit | AudioFrame, bool]]:
        return [(parse_live_audio(part.body, part.content_type), False)]


class LiveJpegStream(LiveStream[JpegFrame]):
    """Live JPEG over HTTP(S): one image per multipart part."""

    def __init__(self, hub: LiveHub, camera: int, *, max_queue: int = DEFAULT_JPEG_QUEUE) -> None:
        super().__init__(hub, camera, DropBuffer(max_queue, start_at_keyframe=False))

    async def _start(self) -> None:
        response = await self._open(
            commands.push_http(self.camera, True, VideoCodec.JPEG),
            commands.push_http(self.camera, False, VideoCodec.JPEG),
        )
        self._spawn(response, self._items, ends_stream=True)

    def _items(self, part: Part) -> Iterable[tuple[JpegFrame, bool]]:
        return [(parse_live_jpeg(part.body), True)]


class _RtpReceiver(asyncio.DatagramProtocol):
    """Feeds UDP datagrams (RTP packets) to the stream."""

    def __init__(self, stream: LiveRtpStream) -> None:
        self._stream = stream

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        self._stream.packet_received(data)


class LiveRtpStream(LiveStream[AccessUnit]):
    """Live H.264/H.265 sent by the NVR as RTP to a local UDP port (``PORT=``)."""

    def __init__(
        self,
        hub: LiveHub,
        camera: int,
        *,
        codec: VideoCodec,
        port: int,
        bind_host: str,
        max_queue: int = DEFAULT_VIDEO_QUEUE,
    ) -> None:
        super().__init__(hub, camera, DropBuffer(max_queue, start_at_keyframe=True))
        self.codec = codec
        self.port = port
        self._bind_host = bind_host
        self._depacketizer = PayloadTypeDepacketizer(codec)
        self._udp: asyncio.DatagramTransport | None = None

    async def _start(self) -> None:
        loop = asyncio.get_running_loop()
        family = socket.AF_INET6 if ":" in self._bind_host else socket.AF_INET
        try:
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _RtpReceiver(self), local_addr=(self._bind_host, self.port), family=family
            )
        except OSError as err:
            raise IproConnectionError(
                f"Cannot receive RTP on UDP port {self.port} ({err.strerror}); pick a free port."
            ) from err
        self._udp = udp
        self.port = udp.get_extra_info("sockname")[1]
        await self._transport.call(
            commands.push_rtp(self.camera, True, self.codec, self.port), self._session
        )
        stop = commands.push_rtp(self.camera, False, self.codec, self.port)
        self._stops.append((stop, self._session.uid))

    def packet_received(self, data: bytes) -> None:
        """Depacketize one datagram into the buffer; damaged packets are skipped."""
        try:
            packet = parse_rtp(data)
        except IproProtocolError:
            self.skipped_parts += 1
            return
        for au in self._depacketizer.push(packet):
            self._buffer.put(au, au.keyframe)

    def _release(self) -> None:
        super()._release()
        if self._udp is not None:
            self._udp.close()
            self._udp = None
