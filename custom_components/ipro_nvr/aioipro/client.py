"""``IproClient``: every command of the i-PRO NVR CGI interface, over one paced transport.

Sessions: one UID for polling and camera control, one shared by all live streams (at
most 16, one per camera), one per playback and per download. The caller owns the
``aiohttp.ClientSession``; the client never creates one. :meth:`IproClient.close` stops
the streams and background task and logs every UID out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime, timezone, tzinfo
import logging
from pathlib import Path

import aiohttp

from . import commands
from .downloads import DownloadManager
from .live import LiveHub, LiveJpegStream, LiveRtpStream, LiveVideoStream
from .models import (
    AuxAction,
    CameraConnectionInfo,
    DownloadedFile,
    DownloadKind,
    FocusAction,
    HddInfo,
    IrisAction,
    LogList,
    LogType,
    NvrInfo,
    VideoCodec,
)
from .pacer import Pacer
from .playback_session import PlaybackSession
from .session import SessionRole
from .text import parse_camera_connection, parse_hdd_info, parse_log_list, parse_zone
from .transport import DEFAULT_KEEPALIVE_INTERVAL, Transport

_LOGGER = logging.getLogger(__name__)


class IproClient:
    """Asynchronous client of one i-PRO network disk recorder."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int | None = None,
        *,
        username: str,
        password: str,
        ssl: bool = False,
        verify_ssl: bool = False,
        pacer: Pacer | None = None,
        request_timeout: float = 10.0,
        keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        download_retry_delays: tuple[float, ...] = (2.0, 5.0, 10.0),
    ) -> None:
        self._transport = Transport(
            session,
            host,
            port,
            username=username,
            password=password,
            ssl=ssl,
            verify_ssl=verify_ssl,
            pacer=pacer,
            request_timeout=request_timeout,
            keepalive_interval=keepalive_interval,
        )
        self._control = self._transport.new_session(SessionRole.CONTROL)
        self._live = LiveHub(self._transport)
        self._downloads = DownloadManager(self._transport, download_retry_delays)
        self._camera_count: int | None = None
        self._zone: tzinfo | None = None

    @property
    def host(self) -> str:
        """Return the NVR's host name or address."""
        return self._transport.host

    @property
    def port(self) -> int:
        """Return the TCP port in use (80 or 443 unless given)."""
        return self._transport.port

    @property
    def pacer(self) -> Pacer:
        """Return the pacer every request to this NVR goes through."""
        return self._transport.pacer

    @property
    def nvr_info(self) -> NvrInfo | None:
        """Return what the last login page told about the NVR."""
        return self._transport.nvr_info

    # Session

    async def login(self) -> NvrInfo:
        """Log in the control session (polling and camera control); return NVR info."""
        await self._transport.acquire(self._control)
        assert self._transport.nvr_info is not None
        return self._transport.nvr_info

    async def keep_alive(self) -> None:
        """Restart the control UID's 90 s clock (the client also does this by itself)."""
        await self._transport.keep_alive(self._control)

    async def close(self) -> None:
        """Stop every stream and the keep-alive task, and log out every session."""
        self._live.abort_all()
        await self._transport.close()

    # Recorder information

    async def get_camera_connection(self) -> CameraConnectionInfo:
        """Return camera slot states and UID usage (``as_getinfo.cgi?FILE=2``)."""
        info = parse_camera_connection(
            await self._transport.call_plain(commands.camera_connection())
        )
        self._camera_count = info.camera_count
        return info

    async def camera_count(self) -> int:
        """Return how many camera slots the NVR has, asking it once."""
        if self._camera_count is None:
            await self.get_camera_connection()
        assert self._camera_count is not None
        return self._camera_count

    async def get_event_log(self) -> LogList:
        """Return the event log, newest first."""
        text = await self._transport.call(commands.event_log(), self._control)
        return self._learn_zone(parse_log_list(text, LogType.EVENT))

    async def get_error_log(self) -> LogList:
        """Return the error log, newest first."""
        text = await self._transport.call(commands.error_log(), self._control)
        return self._learn_zone(parse_log_list(text, LogType.ERROR))

    def _learn_zone(self, log: LogList) -> LogList:
        """Remember the NVR's standard zone: ``recordedtime.cgi`` gives local times without it."""
        if log.entries:
            self._zone = timezone(parse_zone(log.entries[0].zone))
        return log

    async def get_hdd_info(self) -> HddInfo:
        """Return disk capacities and recording ranges (``recordedtime.cgi``, no UID).

        Its times are the NVR's wall clock; they are read in the zone the newest log entry
        named (UTC until a log with entries was read).
        """
        text = await self._transport.call_plain(commands.recorded_time())
        return parse_hdd_info(text, self._zone)

    # Camera control (0.2 s lane)

    async def ptz(self, camera: int, pan: int = 0, tilt: int = 0, zoom: int = 0) -> None:
        """Move a PTZ camera: pan/tilt speed -256..256, zoom -4..4, 0 stops."""
        await self._transport.call(commands.ptz(camera, pan, tilt, zoom), self._control)

    async def center(self, camera: int, x: int, y: int) -> None:
        """Move image position ``x``, ``y`` to the centre of the picture."""
        await self._transport.call(commands.center(camera, x, y), self._control)

    async def focus(self, camera: int, action: FocusAction) -> None:
        """Focus far, near or automatically."""
        await self._transport.call(commands.focus(camera, action), self._control)

    async def iris(self, camera: int, action: IrisAction) -> None:
        """Open, close or reset the iris."""
        await self._transport.call(commands.iris(camera, action), self._control)

    async def set_preset(self, camera: int, number: int) -> None:
        """Store the current position as preset 1..256."""
        await self._transport.call(commands.set_preset(camera, number), self._control)

    async def goto_preset(self, camera: int, number: int) -> None:
        """Move to preset 1..256."""
        await self._transport.call(commands.goto_preset(camera, number), self._control)

    async def aux(self, camera: int, number: int, action: AuxAction) -> None:
        """Open or close auxiliary output 1..8."""
        await self._transport.call(commands.aux(camera, number, action), self._control)

    # Live

    def live_video(
        self, camera: int, codec: VideoCodec = VideoCodec.H264, audio: bool = False
    ) -> LiveVideoStream:
        """Return a live H.264/H.265 stream (with audio if asked) over HTTP(S).

        Use as ``async with client.live_video(1) as stream: async for item in stream``;
        items are :class:`AccessUnit` and, with ``audio``, :class:`AudioFrame`.
        """
        if codec is VideoCodec.JPEG:
            raise ValueError("use live_jpeg() for JPEG")
        return LiveVideoStream(self._live, camera, codec=codec, audio=audio)

    def live_jpeg(self, camera: int) -> LiveJpegStream:
        """Return a live JPEG stream over HTTP(S); items are :class:`JpegFrame`."""
        return LiveJpegStream(self._live, camera)

    def live_rtp(
        self,
        camera: int,
        codec: VideoCodec = VideoCodec.H264,
        port: int = 0,
        *,
        bind_host: str = "0.0.0.0",  # noqa: S104 - the NVR sends to this host's address
    ) -> LiveRtpStream:
        """Return a live H.264/H.265 stream the NVR sends as RTP to a local UDP port.

        ``port`` 0 picks a free port. Items are :class:`AccessUnit`.
        """
        if codec is VideoCodec.JPEG:
            raise ValueError("RTP carries H.264 or H.265 only")
        return LiveRtpStream(self._live, camera, codec=codec, port=port, bind_host=bind_host)

    # Playback

    @asynccontextmanager
    async def playback(self) -> AsyncIterator[PlaybackSession]:
        """Open a playback session on its own UID; it is stopped and logged out on exit."""
        session = self._transport.new_session(SessionRole.PLAYBACK)
        session.users = 1
        await self._transport.acquire(session)
        playback = PlaybackSession(self._transport, session, self.camera_count)
        try:
            yield playback
        finally:
            await playback.finish()
            session.users = 0
            await self._transport.release(session)

    # Download

    async def download(
        self,
        camera: int,
        start: datetime,
        end: datetime,
        kind: DownloadKind,
        folder: Path,
    ) -> list[DownloadedFile]:
        """Download a recording into ``folder``; windows over 1 h become hourly requests."""
        return await self._downloads.download(camera, start, end, kind, folder)

    def download_stream(
        self, camera: int, start: datetime, end: datetime, kind: DownloadKind
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Stream a recording of at most one hour as bytes chunks (for HTTP views)."""
        return self._downloads.stream(camera, start, end, kind)
