"""The ``download_clip`` service: a camera's recording saved as files.

The NVR answers at most one hour per request, so a longer window becomes hourly
requests here (the client would split it too, but then nothing could be logged between
them): each finished hour is logged, and a heartbeat says a long hour is still running.
Hours without recording are skipped as long as some hour has one. A failure or a
cancellation removes every file the call wrote, so a caller sees all or nothing.

Without ``return_response`` the download runs as a background task and the service call
returns at once; with it, the call waits and returns the files. Either way the files are
announced on the bus as ``ipro_nvr_download_finished``, and a download still running
when its NVR is unloaded is cancelled (and cleaned up).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
from pathlib import Path
import time
from typing import Any, Final

from homeassistant.const import ATTR_ENTITY_ID
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
import probatio

from .aioipro.downloads import split_windows
from .aioipro.errors import IproError, IproNoRecordingError
from .aioipro.models import DownloadedFile, DownloadKind
from .const import ATTR_CAMERA, ATTR_DEVICE_ID, ATTR_ENTRY_ID, DOMAIN
from .data import IproNvrConfigEntry
from .devices import camera_identifier
from .targets import CameraTarget, async_camera_targets
from .util import raise_translated_error

_LOGGER = logging.getLogger(__name__)

SERVICE_DOWNLOAD_CLIP: Final = "download_clip"
EVENT_DOWNLOAD_FINISHED: Final = "ipro_nvr_download_finished"
ATTR_START: Final = "start"
ATTR_END: Final = "end"
ATTR_KIND: Final = "kind"
ATTR_FOLDER: Final = "folder"
ATTR_FILES: Final = "files"
ATTR_PATH: Final = "path"
ATTR_SIZE: Final = "size"

DOWNLOAD_KINDS: Final = {
    "mp4": DownloadKind.MP4,
    "mp4_video_only": DownloadKind.MP4_VIDEO_ONLY,
    "n3r": DownloadKind.N3R,
    "n3r_video_only": DownloadKind.N3R_VIDEO_ONLY,
    "list": DownloadKind.LIST,
}
DEFAULT_KIND: Final = "mp4"
# A day of one camera is about 24 requests and many gigabytes: more is surely a typo.
MAX_CLIP_WINDOW: Final = timedelta(hours=24)
# How often a running hour says it is still running (module-level so tests shorten it).
PROGRESS_INTERVAL = 30.0

DOWNLOAD_CLIP_SCHEMA: Final = cv.make_entity_service_schema(
    {
        probatio.Required(ATTR_START): cv.datetime,
        probatio.Required(ATTR_END): cv.datetime,
        probatio.Optional(ATTR_KIND, default=DEFAULT_KIND): probatio.In(list(DOWNLOAD_KINDS)),
        probatio.Optional(ATTR_FOLDER): cv.string,
    }
)

_DATA_JOBS: HassKey[DownloadJobs] = HassKey(f"{DOMAIN}_download_jobs")


@dataclass(frozen=True, slots=True, kw_only=True)
class ClipRequest:
    """What to download: a UTC window, a file type and the folder to write into."""

    start: datetime
    end: datetime
    kind: str
    folder: Path

    @property
    def download_kind(self) -> DownloadKind:
        """Return the client's value of the file type."""
        return DOWNLOAD_KINDS[self.kind]


@dataclass(slots=True)
class DownloadJobs:
    """Running downloads, so unloading an NVR cancels the ones that use it."""

    tasks: dict[asyncio.Task[Any], frozenset[str]] = field(default_factory=dict)
    hooked: set[str] = field(default_factory=set)

    @callback
    def start(
        self,
        hass: HomeAssistant,
        entries: Iterable[IproNvrConfigEntry],
        job: Coroutine[Any, Any, Any],
        name: str,
    ) -> asyncio.Task[Any]:
        """Run ``job`` in the background, tied to the entries it downloads from."""
        task: asyncio.Task[Any] = hass.async_create_background_task(job, name)
        entry_ids: set[str] = set()
        for entry in entries:
            entry_ids.add(entry.entry_id)
            if entry.entry_id not in self.hooked:
                self.hooked.add(entry.entry_id)
                entry.async_on_unload(partial(self._cancel, entry.entry_id))
        self.tasks[task] = frozenset(entry_ids)
        task.add_done_callback(self.tasks.pop)
        return task

    @callback
    def _cancel(self, entry_id: str) -> None:
        self.hooked.discard(entry_id)
        for task, entry_ids in list(self.tasks.items()):
            if entry_id in entry_ids:
                task.cancel()


async def async_clip_request(hass: HomeAssistant, data: dict[str, Any]) -> ClipRequest:
    """Validate the window and the folder of a call; times become UTC.

    A time without a zone is Home Assistant's local time. A folder given by the caller
    must be in ``allowlist_external_dirs``; a relative one is taken from the config dir.
    """
    start, end = dt_util.as_utc(data[ATTR_START]), dt_util.as_utc(data[ATTR_END])
    if end <= start:
        raise ServiceValidationError(translation_domain=DOMAIN, translation_key="invalid_window")
    if end - start > MAX_CLIP_WINDOW:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="window_too_long",
            translation_placeholders={"hours": str(int(MAX_CLIP_WINDOW.total_seconds() // 3600))},
        )
    if (folder_text := data.get(ATTR_FOLDER)) is None:
        folder = Path(hass.config.path("media", DOMAIN))
    else:
        folder = Path(hass.config.path(folder_text))
        if not await hass.async_add_executor_job(hass.config.is_allowed_path, str(folder)):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="folder_not_allowed",
                translation_placeholders={"folder": str(folder)},
            )
    return ClipRequest(start=start, end=end, kind=data[ATTR_KIND], folder=folder)


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@asynccontextmanager
async def _heartbeat(what: str) -> AsyncIterator[None]:
    """Log every ``PROGRESS_INTERVAL`` seconds that ``what`` is still running."""
    began = time.monotonic()

    async def beat() -> None:
        while True:
            await asyncio.sleep(PROGRESS_INTERVAL)
            _LOGGER.info("Still downloading %s (%.0f s so far)", what, time.monotonic() - began)

    task = asyncio.create_task(beat(), name=f"{DOMAIN} download progress")
    try:
        yield
    finally:
        task.cancel()


async def _async_download_camera(
    target: CameraTarget, request: ClipRequest, written: list[Path]
) -> list[DownloadedFile]:
    """Download one camera's window hour by hour; raise if no hour has a recording.

    Each file is listed in ``written`` as soon as it exists, for the caller to remove
    on a later failure.
    """
    client = target.entry.runtime_data.client
    windows = split_windows(request.start, request.end)
    name = f"camera {target.camera} of {target.entry.title}"
    log = _LOGGER.info if len(windows) > 1 else _LOGGER.debug
    log(
        "Downloading %s from %s to %s in %d requests",
        name,
        request.start,
        request.end,
        len(windows),
    )
    files: list[DownloadedFile] = []
    for number, (start, end) in enumerate(windows, 1):
        part = f"{name}, {start:%Y-%m-%d %H:%M}-{end:%H:%M} UTC"
        try:
            async with _heartbeat(part):
                got = await client.download(
                    target.camera, start, end, request.download_kind, request.folder
                )
        except IproNoRecordingError:
            if len(windows) == 1:
                raise
            log("Nothing recorded for %s (%d of %d)", part, number, len(windows))
            continue
        files += got
        written.extend(f.path for f in got)
        log(
            "Downloaded %s (%d of %d): %d files, %s so far",
            part,
            number,
            len(windows),
            len(got),
            _megabytes(sum(f.size for f in files)),
        )
    if not files:
        raise IproNoRecordingError(
            f"Camera {target.camera} has no recording between {request.start} and {request.end}."
        )
    return files


def _remove_files(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


async def _async_download_cameras(
    hass: HomeAssistant, targets: list[CameraTarget], request: ClipRequest, written: list[Path]
) -> list[dict[str, Any]]:
    """Download the cameras one after the other; list each file written in ``written``.

    One at a time leaves one of the NVR's two download slots free for the media
    browser. A camera without recording is skipped when another camera has one.
    """
    rows: list[dict[str, Any]] = []
    for target in targets:
        try:
            files = await _async_download_camera(target, request, written)
        except IproNoRecordingError:
            if len(targets) == 1:
                raise
            continue
        device = dr.async_get(hass).async_get_device_by_identifier(
            camera_identifier(target.entry, target.camera), target.entry.entry_id
        )
        device_id = device.id if device is not None else None
        rows += [
            {
                ATTR_PATH: str(f.path),
                ATTR_SIZE: f.size,
                ATTR_CAMERA: target.camera,
                ATTR_ENTRY_ID: target.entry.entry_id,
                ATTR_DEVICE_ID: device_id,
                ATTR_ENTITY_ID: target.entity_id,
            }
            for f in files
        ]
    if not rows:
        raise IproNoRecordingError("None of the cameras has a recording in that period.")
    return rows


async def async_download_clip(
    hass: HomeAssistant, targets: list[CameraTarget], request: ClipRequest
) -> dict[str, Any]:
    """Download every target camera's clip, fire the bus event and return its data.

    Any failure (or cancellation) removes every file written so far; a folder that
    cannot be written is a translated error.
    """
    written: list[Path] = []
    try:
        rows = await _async_download_cameras(hass, targets, request, written)
    except BaseException as err:
        await asyncio.shield(hass.async_add_executor_job(_remove_files, written))
        if isinstance(err, OSError):
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="cannot_write",
                translation_placeholders={"folder": str(request.folder), "error": str(err)},
            ) from err
        raise
    data: dict[str, Any] = {
        ATTR_START: request.start.isoformat(),
        ATTR_END: request.end.isoformat(),
        ATTR_KIND: request.kind,
        ATTR_FOLDER: str(request.folder),
        ATTR_FILES: rows,
    }
    hass.bus.async_fire(EVENT_DOWNLOAD_FINISHED, data)
    return data


async def _async_background_download(
    hass: HomeAssistant, targets: list[CameraTarget], request: ClipRequest
) -> None:
    """Run a download nobody waits for: its failure can only be logged."""
    try:
        await async_download_clip(hass, targets, request)
    except (IproError, HomeAssistantError) as err:
        # The message says what to do; a traceback of an NVR's answer would not help.
        _LOGGER.error("Downloading the clip from %s failed: %s", request.start, err)  # noqa: TRY400


@raise_translated_error
async def _async_handle_download_clip(call: ServiceCall) -> ServiceResponse:
    """Start the download; wait for it only when the caller wants the files back."""
    hass = call.hass
    targets = async_camera_targets(call)
    request = await async_clip_request(hass, dict(call.data))
    jobs = hass.data.setdefault(_DATA_JOBS, DownloadJobs())
    entries = {target.entry.entry_id: target.entry for target in targets}.values()
    name = f"{DOMAIN} download_clip {request.start:%Y-%m-%d %H:%M}"
    if not call.return_response:
        jobs.start(hass, entries, _async_background_download(hass, targets, request), name)
        return None
    task = jobs.start(hass, entries, async_download_clip(hass, targets, request), name)
    try:
        result: dict[str, Any] = await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            raise
        raise HomeAssistantError(
            translation_domain=DOMAIN, translation_key="download_cancelled"
        ) from None
    return result


@callback
def async_register_download_service(hass: HomeAssistant) -> None:
    """Register ``ipro_nvr.download_clip`` (from ``services.async_setup_services``)."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_DOWNLOAD_CLIP,
        _async_handle_download_clip,
        schema=DOWNLOAD_CLIP_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
