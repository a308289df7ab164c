"""Cameras: snapshots, MJPEG and a restreamed H.264/H.265 stream for each registered camera.

All live media of an entry goes through one ``LiveMedia`` (see aioipro/livemedia.py): one
NVR stream per camera, whoever watches. The stream source is a loopback URL of the
integration's own restream (MPEG-TS over HTTP with an unguessable token), which Home
Assistant's stream (HLS) and go2rtc (WebRTC) open like any camera URL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import override

from aiohttp import web
from homeassistant.components.camera import Camera
from homeassistant.components.camera.const import CameraEntityFeature
from homeassistant.const import EVENT_HOMEASSISTANT_STOP
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util.hass_dict import HassKey

from .aioipro.errors import IproError
from .aioipro.livemedia import LiveMedia
from .aioipro.models import CameraStatus, VideoCodec
from .const import CONF_VIDEO_CODEC, DEFAULT_VIDEO_CODEC, DOMAIN
from .data import IproNvrConfigEntry, IproNvrData
from .entity import IproCameraEntity, async_add_camera_entities
from .util import raise_translated_error

# Pictures come from streams that are already open; nothing here queues NVR commands.
PARALLEL_UPDATES = 0

_LIVE_MEDIA: HassKey[dict[str, LiveMedia]] = HassKey(f"{DOMAIN}_live_media")
_BOUNDARY = "frameboundary"

CAMERA_DESCRIPTION = EntityDescription(key="camera", name=None)


@callback
def live_media(hass: HomeAssistant, entry: IproNvrConfigEntry) -> LiveMedia | None:
    """Return the live media of a loaded entry (for diagnostics), if its cameras are set up."""
    return hass.data.get(_LIVE_MEDIA, {}).get(entry.entry_id)


def video_codec(entry: IproNvrConfigEntry) -> VideoCodec:
    """Return the codec to ask cameras for first (an option; cameras may prove otherwise)."""
    value = entry.options.get(CONF_VIDEO_CODEC, DEFAULT_VIDEO_CODEC)
    return VideoCodec.H265 if value == VideoCodec.H265 else VideoCodec.H264


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Start the entry's restream server and add a camera entity per registered camera."""
    data = entry.runtime_data

    async def run_blocking[T](func: Callable[[], T]) -> T:
        return await hass.async_add_executor_job(func)

    media = LiveMedia(data.client, run_blocking=run_blocking)
    await media.start()
    medias = hass.data.setdefault(_LIVE_MEDIA, {})
    medias[entry.entry_id] = media

    async def stop(_event: Event | None = None) -> None:
        medias.pop(entry.entry_id, None)
        await media.stop()

    entry.async_on_unload(stop)
    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, stop))
    codec = video_codec(entry)

    def create(camera: int) -> Iterable[Entity]:
        media.configure(camera, codec)
        return [IproCamera(data, media, camera)]

    async_add_camera_entities(entry, async_add_entities, create)


class IproCamera(IproCameraEntity, Camera):
    """A camera recorded by the NVR, available while the NVR reports it connected."""

    _attr_supported_features = CameraEntityFeature.STREAM

    def __init__(self, data: IproNvrData, media: LiveMedia, camera: int) -> None:
        """Attach to the camera's device and to the entry's live media."""
        IproCameraEntity.__init__(self, data, CAMERA_DESCRIPTION, camera)
        Camera.__init__(self)
        self._media = media

    @property
    @override
    def available(self) -> bool:
        """Return whether the NVR answers and reports the camera connected."""
        return (
            super().available
            and self.coordinator.data.cameras.cameras.get(self.camera) is CameraStatus.NORMAL
        )

    @override
    async def async_will_remove_from_hass(self) -> None:
        """Close the camera's streams while the client can still send their STOP."""
        await super().async_will_remove_from_hass()
        await self._media.release(self.camera)

    @override
    async def stream_source(self) -> str:
        """Return the camera's restream URL (loopback only, with the entry's token)."""
        return self._media.stream_url(self.camera)

    @override
    @raise_translated_error
    async def async_camera_image(
        self, width: int | None = None, height: int | None = None
    ) -> bytes | None:
        """Return the newest picture; Home Assistant scales it if asked.

        Refused at once while the camera is unavailable: its stream's START would wait
        for its turn among the NVR's paced commands only to be refused.
        """
        if not self.available:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="camera_unavailable",
                translation_placeholders={"camera": str(self.camera)},
            )
        return await self._media.snapshot(self.camera)

    @override
    async def handle_async_mjpeg_stream(self, request: web.Request) -> web.StreamResponse | None:
        """Serve the camera's pictures as they come, as multipart JPEG (MJPEG card)."""
        if not self.available:
            return None  # Home Assistant answers 502, at once (see async_camera_image)
        frames = self._media.frames(self.camera)
        try:
            first = await anext(frames)
        except IproError:
            await frames.aclose()
            return None  # Home Assistant answers 502
        response = web.StreamResponse()
        response.content_type = f"multipart/x-mixed-replace;boundary=--{_BOUNDARY}"
        # Ends when the viewer leaves or the camera's stream breaks.
        with suppress(ConnectionError, IproError):
            try:
                await response.prepare(request)
                # Chrome shows the frame before the newest: the first one goes out twice.
                await response.write(_part(first) + _part(first))
                async for jpeg in frames:
                    await response.write(_part(jpeg))
            finally:
                await frames.aclose()
        return response


def _part(jpeg: bytes) -> bytes:
    header = f"--{_BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n"
    return header.encode() + jpeg + b"\r\n"
