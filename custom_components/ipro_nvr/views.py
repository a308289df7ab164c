"""Authenticated HTTP views that stream recordings from the NVR to a browser or player.

``ClipView`` passes an ``httpdl.cgi`` download (MP4, at most an hour) on as it arrives;
``PlaybackView`` streams fragmented MP4 made from playback GOPs from a chosen time (see
``aioipro.playback_stream`` for when which serves better). Nothing is stored on disk.

Both need a logged-in user; a ``<video>`` element cannot send a token, so URLs handed
to the frontend are signed (``async_sign_path``), as core signs its media URLs. Times in
URLs are UTC epoch seconds. Errors the NVR reports before the first byte become HTTP
statuses (404 nothing recorded, 415 a format the recording cannot give, 503 busy);
after the first byte a broken transfer can only end the stream early.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
import logging
from typing import Final

from aiohttp import web
from homeassistant.components.http.auth import async_sign_path
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import HomeAssistantView

from .aioipro.downloads import split_windows
from .aioipro.errors import (
    IproBusyError,
    IproCodecError,
    IproError,
    IproNoRecordingError,
    IproTimeoutError,
)
from .aioipro.models import DownloadKind
from .aioipro.playback_stream import playback_mp4
from .const import DOMAIN
from .data import IproNvrConfigEntry

_LOGGER = logging.getLogger(__name__)

CLIP_URL: Final = "/api/ipro_nvr/clip/{entry_id}/{camera}/{start}/{end}"
PLAYBACK_URL: Final = "/api/ipro_nvr/playback/{entry_id}/{camera}/{start}"
PLAYBACK_UNTIL_URL: Final = "/api/ipro_nvr/playback/{entry_id}/{camera}/{start}/{end}"
# As long as core's media URLs: a browser may keep a paused video around for a while.
SIGNED_URL_LIFETIME: Final = timedelta(hours=24)
MAX_CAMERA: Final = 128
MP4: Final = "video/mp4"
_CHUNK_HEADERS: Final = {"Content-Type": MP4, "Cache-Control": "no-store"}

# Most specific first.
_ERROR_STATUS: Final[tuple[tuple[type[IproError], HTTPStatus], ...]] = (
    (IproNoRecordingError, HTTPStatus.NOT_FOUND),
    (IproCodecError, HTTPStatus.UNSUPPORTED_MEDIA_TYPE),
    (IproBusyError, HTTPStatus.SERVICE_UNAVAILABLE),
    (IproTimeoutError, HTTPStatus.GATEWAY_TIMEOUT),
)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


@callback
def clip_path(entry_id: str, camera: int, start: datetime, end: datetime) -> str:
    """Return the (unsigned) path of a downloaded clip."""
    return CLIP_URL.format(entry_id=entry_id, camera=camera, start=_epoch(start), end=_epoch(end))


@callback
def playback_path(entry_id: str, camera: int, start: datetime, end: datetime | None = None) -> str:
    """Return the (unsigned) path of a playback stream from ``start`` (to ``end``)."""
    if end is None:
        return PLAYBACK_URL.format(entry_id=entry_id, camera=camera, start=_epoch(start))
    return PLAYBACK_UNTIL_URL.format(
        entry_id=entry_id, camera=camera, start=_epoch(start), end=_epoch(end)
    )


@callback
def async_sign(hass: HomeAssistant, path: str) -> str:
    """Sign ``path`` so a ``<video>`` element (no auth header) may fetch it."""
    return async_sign_path(hass, path, SIGNED_URL_LIFETIME)


@callback
def async_setup_views(hass: HomeAssistant) -> None:
    """Register the views (once, from ``async_setup``)."""
    hass.http.register_view(ClipView(hass))
    hass.http.register_view(PlaybackView(hass))


def _error_response(err: IproError) -> web.Response:
    status = next(
        (code for kind, code in _ERROR_STATUS if isinstance(err, kind)), HTTPStatus.BAD_GATEWAY
    )
    return web.Response(status=status, text=str(err))


class _RecordingView(HomeAssistantView):
    """Shared request checks and streaming of the two views."""

    requires_auth = True

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass

    def _entry(self, entry_id: str) -> IproNvrConfigEntry:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
            raise web.HTTPNotFound(text="No loaded i-PRO NVR has this id.")
        return entry

    @staticmethod
    def _camera(text: str) -> int:
        if not text.isdigit() or not 1 <= int(text) <= MAX_CAMERA:
            raise web.HTTPBadRequest(text=f"Camera must be 1..{MAX_CAMERA}.")
        return int(text)

    @staticmethod
    def _time(text: str) -> datetime:
        if not text.isdigit():
            raise web.HTTPBadRequest(text="Times are UTC epoch seconds.")
        try:
            return datetime.fromtimestamp(int(text), UTC)
        except (OverflowError, OSError, ValueError) as err:
            raise web.HTTPBadRequest(text="Time out of range.") from err

    async def _stream(
        self,
        request: web.Request,
        source: AbstractAsyncContextManager[AsyncIterable[bytes]],
        what: str,
    ) -> web.StreamResponse:
        """Answer with ``source``'s bytes; an error before the first byte is a status.

        Leaving ``source`` ends the NVR's side (download or playback session) when the
        viewer goes away or the stream ends.
        """
        async with AsyncExitStack() as stack:
            try:
                chunks = await stack.enter_async_context(source)
            except IproError as err:
                _LOGGER.debug("Cannot stream %s: %s", what, err)
                return _error_response(err)
            response = web.StreamResponse(headers=_CHUNK_HEADERS)
            await response.prepare(request)
            try:
                async for chunk in chunks:
                    await response.write(chunk)
            except IproError as err:
                _LOGGER.warning("Streaming %s broke off: %s", what, err)
                return response
            except ConnectionResetError:
                _LOGGER.debug("The viewer of %s went away", what)
                return response
            await response.write_eof()
            return response


class ClipView(_RecordingView):
    """Streams an NVR download (MP4, one hour at most) while it arrives."""

    url = CLIP_URL
    name = "api:ipro_nvr:clip"

    async def get(
        self, request: web.Request, entry_id: str, camera: str, start: str, end: str
    ) -> web.StreamResponse:
        """Stream camera ``camera``'s recording from ``start`` to ``end``."""
        entry = self._entry(entry_id)
        number = self._camera(camera)
        begin, finish = self._time(start), self._time(end)
        # One request of whole minutes (the NVR's STARTTIME/ENDTIME have no seconds).
        if finish <= begin or len(split_windows(begin, finish)) > 1:
            raise web.HTTPBadRequest(text="A clip ends after it starts, within an hour.")
        source = entry.runtime_data.client.download_stream(number, begin, finish, DownloadKind.MP4)
        return await self._stream(request, source, f"camera {number} from {begin}")


class PlaybackView(_RecordingView):
    """Streams fragmented MP4 of a camera's recording from a time, at playback speed."""

    url = PLAYBACK_URL
    extra_urls = [PLAYBACK_UNTIL_URL]  # noqa: RUF012 - the base class declares a list
    name = "api:ipro_nvr:playback"

    async def get(
        self,
        request: web.Request,
        entry_id: str,
        camera: str,
        start: str,
        end: str | None = None,
    ) -> web.StreamResponse:
        """Play camera ``camera`` back from ``start`` (until ``end`` when given)."""
        entry = self._entry(entry_id)
        number = self._camera(camera)
        begin = self._time(start)
        finish = None if end is None else self._time(end)
        if finish is not None and finish <= begin:
            raise web.HTTPBadRequest(text="The playback ends after it starts.")
        source = playback_mp4(entry.runtime_data.client, number, begin, finish)
        return await self._stream(request, source, f"playback of camera {number} from {begin}")
