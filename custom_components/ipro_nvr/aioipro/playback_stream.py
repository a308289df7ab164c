"""A camera's recording from a chosen time as fragmented MP4, through playback GOPs.

``httpdl.cgi`` delivers a file the way the NVR writes it, and an MP4 whose index comes
last cannot be played before its last byte. Playback instead hands over one group of
pictures (``camera.cgi``) at a time from any moment (``GOTODATE``): remuxed here into
fragmented MP4 (the index first, then one fragment per GOP) a browser or ffmpeg starts
after the first GOPs, however long the stream runs, and it never splits into files.

The stream follows the playback's speed rather than racing through the recording: a
GOP is asked for only while the stream is less than ``lead`` seconds ahead of the wall
clock, which keeps the NVR's load that of one viewer. At the newest recording the NVR
answers the same GOP again; the stream then waits for the recording to grow. Video
only: the recorded audio comes in separate one-second blocks (``playaudio.cgi``) and is
left to the downloaded MP4, which has it in sync.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from fractions import Fraction
import time
from typing import Final

import av
from av.video.codeccontext import VideoCodecContext

from .client import IproClient
from .errors import IproCodecError, IproProtocolError
from .models import PlaybackGop, VideoCodec
from .playback_session import PlaybackSession

TIME_BASE: Final = Fraction(1, 90000)
DEFAULT_LEAD: Final = 3.0
_FFMPEG_NAMES: Final = {VideoCodec.H264: "h264", VideoCodec.H265: "hevc"}
_MP4_FLAGS: Final = "frag_keyframe+empty_moov+default_base_moof"
_TICKS_PER_SECOND: Final = 90000
_FIRST_PTS_SLACK: Final = timedelta(microseconds=1)


class _Sink:
    """File-like target for PyAV that collects what the muxer writes."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def picture_size(codec: VideoCodec, keyframe: bytes) -> tuple[int, int]:
    """Return width and height of a keyframe (the MP4 header needs them up front)."""
    decoder = av.CodecContext.create(_FFMPEG_NAMES[codec], "r")
    assert isinstance(decoder, VideoCodecContext)
    try:
        frames = [*decoder.decode(av.Packet(keyframe)), *decoder.decode(None)]
    except av.FFmpegError:
        frames = []
    if not frames:
        raise IproProtocolError(f"The NVR's first {codec} picture is not a decodable keyframe.")
    return frames[0].width, frames[0].height


class Fmp4Muxer:
    """Remuxes Annex B access units into fragmented MP4 without decoding them.

    The first call returns the header (``ftyp`` and an empty ``moov``); a fragment
    comes out when the next keyframe closes it, and :meth:`close` flushes the last one.
    """

    def __init__(self, codec: VideoCodec, width: int, height: int) -> None:
        self._sink = _Sink()
        self._container = av.open(
            self._sink, "w", format="mp4", container_options={"movflags": _MP4_FLAGS}
        )
        self._stream = self._container.add_mux_stream(
            _FFMPEG_NAMES[codec], time_base=TIME_BASE, width=width, height=height
        )
        self.closed = False

    def add(self, data: bytes, pts: int, *, keyframe: bool) -> bytes:
        """Mux one access unit at ``pts`` (90 kHz ticks); return the bytes written."""
        packet = av.Packet(data)
        packet.stream = self._stream
        packet.time_base = TIME_BASE
        packet.pts = packet.dts = pts
        packet.is_keyframe = keyframe
        self._container.mux_one(packet)
        return self._sink.take()

    def close(self) -> bytes:
        """Write the last fragment and release the muxer."""
        if self.closed:
            return b""
        self.closed = True
        self._container.close()
        return self._sink.take()


class _GopRemuxer:
    """Turns successive GOPs into fMP4 bytes with time stamps relative to the first."""

    def __init__(self, first: PlaybackGop, size: tuple[int, int]) -> None:
        self.origin = first.pictures[0].time
        self.last = self.origin - _FIRST_PTS_SLACK
        """Time of the last picture muxed: pictures up to it are never muxed again."""
        self._muxer = Fmp4Muxer(first.codec, *size)

    @property
    def duration(self) -> float:
        """Return the seconds of recording muxed so far."""
        return max(0.0, (self.last - self.origin).total_seconds())

    def add(self, gop: PlaybackGop) -> bytes:
        """Mux the pictures of ``gop`` that come after what was muxed already.

        Remuxing copies bytes (no decoding): a GOP takes well under a millisecond, so
        it runs in the event loop.
        """
        out = bytearray()
        for index, picture in enumerate(gop.pictures):
            if picture.time <= self.last:
                continue
            self.last = picture.time
            pts = round((picture.time - self.origin).total_seconds() * _TICKS_PER_SECOND)
            out += self._muxer.add(picture.data, pts, keyframe=index == 0)
        return bytes(out)

    def close(self) -> bytes:
        """Flush the last fragment."""
        return self._muxer.close()


class PlaybackMp4:
    """The chunks of one playback stream; iterate it once."""

    def __init__(
        self,
        session: PlaybackSession,
        camera: int,
        first: PlaybackGop,
        *,
        size: tuple[int, int],
        end: datetime | None,
        lead: float,
    ) -> None:
        self._session = session
        self._camera = camera
        self._first = first
        self.size = size
        """Width and height of the pictures."""
        self._end = end
        self._lead = lead
        self.gops = 0
        """How many GOPs went into the stream."""

    def _reaches_end(self, gop: PlaybackGop) -> bool:
        """Return whether the GOP after ``gop`` would start at or after ``end``."""
        if self._end is None:
            return False
        pictures = len(gop.pictures)
        step = (gop.end - gop.start) / (pictures - 1) if pictures > 1 else timedelta(0)
        return gop.end + step >= self._end

    async def _next_gop(self, remuxer: _GopRemuxer, began: float) -> PlaybackGop:
        """Ask for the next GOP once the stream is no more than ``lead`` s ahead.

        At the newest recording the NVR repeats its last GOP: wait a GOP's time for
        the recording to grow, and ask again.
        """
        ahead = remuxer.duration - (time.monotonic() - began)
        if ahead > self._lead:
            await asyncio.sleep(ahead - self._lead)
        gop = await self._session.gop(self._camera)
        while gop.end <= remuxer.last:
            await asyncio.sleep(max(0.1, (gop.end - gop.start).total_seconds()))
            gop = await self._session.gop(self._camera)
        return gop

    async def __aiter__(self) -> AsyncIterator[bytes]:
        remuxer = _GopRemuxer(self._first, self.size)
        began = time.monotonic()
        gop = self._first
        try:
            while True:
                if data := remuxer.add(gop):
                    yield data
                self.gops += 1
                if self._reaches_end(gop):
                    break
                gop = await self._next_gop(remuxer, began)
            tail = remuxer.close()
        finally:
            remuxer.close()
        if tail:
            yield tail


@asynccontextmanager
async def playback_mp4(
    client: IproClient,
    camera: int,
    start: datetime,
    end: datetime | None = None,
    *,
    lead: float = DEFAULT_LEAD,
) -> AsyncIterator[PlaybackMp4]:
    """Play ``camera`` back from ``start`` (until ``end``, else on) as fragmented MP4.

    The playback session (its own UID) is set up and the first GOP fetched on entry, so
    errors (no free session, a JPEG recording) are raised before any byte is sent; the
    session is stopped and logged out on exit.
    """
    if start.tzinfo is None or (end is not None and end.tzinfo is None):
        raise ValueError("playback times must be timezone-aware")
    async with client.playback() as session:
        await session.mask([camera])
        await session.goto_date(start)
        first = await session.gop(camera)
        if first.codec not in _FFMPEG_NAMES:
            raise IproCodecError(
                f"Camera {camera} records {first.codec}, which cannot be played back as MP4; "
                "download the recording instead."
            )
        size = await asyncio.to_thread(picture_size, first.codec, first.pictures[0].data)
        yield PlaybackMp4(session, camera, first, size=size, end=end, lead=lead)
