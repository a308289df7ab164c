"""The NVR's recordings in the media browser.

NVR -> camera -> day -> hour, within the recorded range the disks report (days and hours
in Home Assistant's time zone), and per NVR a folder of recent event-log entries, each a
clip from shortly before the entry.

Two ways to the player, chosen by measurement against the simulator with the NVR's 3 s
pacing and the field report's transfer speed (benchmarks/bench_playback.py). A download
is an MP4 whose index comes last, so nothing plays before its last byte: first picture
after 8 s for one minute, 29 s for ten, 141 s for an hour. Playback GOPs remuxed to
fragmented MP4 show the first picture after 9-12 s whatever the length. So an event
clip (a minute or two) is the NVR's download (``ClipView``), complete in seconds and with
its audio; an hour is a playback stream (``PlaybackView``), since its download would keep
the viewer waiting minutes and may arrive as several files that do not join into one MP4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, override

from homeassistant.components.media_player.const import MediaClass, MediaType
from homeassistant.components.media_player.errors import BrowseError
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util

from .aioipro.models import HddInfo, LogEntry
from .const import DOMAIN
from .data import IproNvrConfigEntry
from .devices import camera_identifier
from .views import MP4, async_sign, clip_path, playback_path

EVENT_BEFORE: Final = timedelta(seconds=10)
EVENT_AFTER: Final = timedelta(seconds=50)
MAX_EVENTS: Final = 50
EVENTS: Final = "events"
CAMERA: Final = "camera"
CLIP: Final = "clip"
PLAY: Final = "play"
_HOUR: Final = timedelta(hours=1)
_DAY_FORMAT: Final = "%Y-%m-%d"


async def async_get_media_source(hass: HomeAssistant) -> IproMediaSource:
    """Return the media source of every loaded i-PRO NVR."""
    return IproMediaSource(hass)


@dataclass(frozen=True, slots=True)
class RecordedRange:
    """First and last recorded moment over all disks."""

    oldest: datetime
    newest: datetime

    @classmethod
    def of(cls, hdd: HddInfo) -> RecordedRange | None:
        """Return the range the disks report, ``None`` when nothing is recorded."""
        ranges = [(d.oldest, d.newest) for d in hdd.disks if d.oldest and d.newest]
        if not ranges:
            return None
        # Nothing is recorded in the future, whatever the NVR's clock or zone says.
        now = dt_util.utcnow()
        return cls(min(r[0] for r in ranges), min(now, max(r[1] for r in ranges)))

    def days(self) -> list[date]:
        """Return the local days holding recordings, newest first."""
        first = dt_util.as_local(self.oldest).date()
        last = dt_util.as_local(self.newest).date()
        return [last - timedelta(days=n) for n in range((last - first).days + 1)]

    def hours(self, day: date) -> list[tuple[datetime, datetime]]:
        """Return the recorded part of each local hour of ``day``, as UTC windows.

        Hours are counted in UTC from local midnight to the next, so a day with a
        summer-time change has 23 or 25 of them.
        """
        zone = dt_util.get_default_time_zone()
        midnight = datetime.combine(day, datetime.min.time(), zone).astimezone(UTC)
        next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), zone)
        windows = []
        start = midnight
        while start < next_midnight:
            end = start + _HOUR
            if end > self.oldest and start < self.newest:
                windows.append((max(start, _floor_minute(self.oldest)), min(end, self.newest)))
            start = end
        return windows


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _local(moment: datetime, fmt: str) -> str:
    return dt_util.as_local(moment).strftime(fmt)


class IproMediaSource(MediaSource):
    """Recordings and event clips of the loaded i-PRO NVRs."""

    name = "i-PRO NVR"

    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(DOMAIN)
        self.hass = hass

    def _entry(self, entry_id: str) -> IproNvrConfigEntry:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
            raise Unresolvable(f"No loaded i-PRO NVR has the id {entry_id}.")
        return entry

    def _camera(self, entry: IproNvrConfigEntry, text: str) -> int:
        if (
            not text.isdigit()
            or int(text) not in entry.runtime_data.coordinator.data.cameras.registered
        ):
            raise Unresolvable(f"{entry.title} has no camera {text}.")
        return int(text)

    def _camera_title(self, entry: IproNvrConfigEntry, camera: int) -> str:
        device = dr.async_get(self.hass).async_get_device_by_identifier(
            camera_identifier(entry, camera), entry.entry_id
        )
        if device is not None and (name := device.name_by_user or device.name):
            return name
        return f"Camera {camera}"

    @override
    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        """Return a signed URL of an MP4 the browser plays (see the module docstring)."""
        parts = (item.identifier or "").split("/")
        if len(parts) == 5 and parts[1] in (CLIP, PLAY):
            entry_id, kind, camera_text, start_text, end_text = parts
            entry = self._entry(entry_id)
            camera = self._camera(entry, camera_text)
            start, end = _time(start_text), _time(end_text)
            if kind == CLIP:
                path = clip_path(entry_id, camera, start, end)
            else:
                path = playback_path(entry_id, camera, start, end)
            return PlayMedia(async_sign(self.hass, path), MP4)
        raise Unresolvable(f"Cannot play {item.identifier!r}.")

    @override
    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        """Browse NVRs, their cameras, days and hours, and recent events."""
        try:
            return self._browse(item.identifier.split("/") if item.identifier else [])
        except Unresolvable as err:
            raise BrowseError(str(err)) from err

    def _browse(self, parts: list[str]) -> BrowseMediaSource:
        match parts:
            case []:
                return self._root()
            case [entry_id]:
                return self._nvr(self._entry(entry_id))
            case [entry_id, "events"]:
                return self._events(self._entry(entry_id))
            case [entry_id, "camera", camera]:
                entry = self._entry(entry_id)
                return self._days(entry, self._camera(entry, camera))
            case [entry_id, "camera", camera, day]:
                entry = self._entry(entry_id)
                return self._hours(entry, self._camera(entry, camera), _day(day))
        raise Unresolvable(f"Cannot browse {'/'.join(parts)!r}.")

    def _folder(
        self, identifier: str | None, title: str, children: list[BrowseMediaSource]
    ) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.DIRECTORY,
            media_content_type=MediaType.VIDEO,
            title=title,
            can_play=False,
            can_expand=True,
            children=children,
            children_media_class=children[0].media_class if children else None,
        )

    def _video(self, identifier: str, title: str) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN,
            identifier=identifier,
            media_class=MediaClass.VIDEO,
            media_content_type=MP4,
            title=title,
            can_play=True,
            can_expand=False,
        )

    def _root(self) -> BrowseMediaSource:
        entries = [
            entry
            for entry in self.hass.config_entries.async_entries(DOMAIN)
            if entry.state is ConfigEntryState.LOADED
        ]
        children = [
            self._folder(entry.entry_id, entry.title, [])
            for entry in sorted(entries, key=lambda entry: entry.title)
        ]
        return self._folder(None, self.name or DOMAIN, children)

    def _nvr(self, entry: IproNvrConfigEntry) -> BrowseMediaSource:
        cameras = entry.runtime_data.coordinator.data.cameras.registered
        children = [self._folder(f"{entry.entry_id}/{EVENTS}", "Events", [])]
        children += [
            self._folder(f"{entry.entry_id}/{CAMERA}/{n}", self._camera_title(entry, n), [])
            for n in cameras
        ]
        return self._folder(entry.entry_id, entry.title, children)

    def _days(self, entry: IproNvrConfigEntry, camera: int) -> BrowseMediaSource:
        base = f"{entry.entry_id}/{CAMERA}/{camera}"
        recorded = RecordedRange.of(entry.runtime_data.coordinator.data.hdd)
        days = recorded.days() if recorded else []
        children = [
            self._folder(f"{base}/{day:{_DAY_FORMAT}}", f"{day:{_DAY_FORMAT}}", []) for day in days
        ]
        return self._folder(base, self._camera_title(entry, camera), children)

    def _hours(self, entry: IproNvrConfigEntry, camera: int, day: date) -> BrowseMediaSource:
        base = f"{entry.entry_id}/{CAMERA}/{camera}/{day:{_DAY_FORMAT}}"
        recorded = RecordedRange.of(entry.runtime_data.coordinator.data.hdd)
        windows = recorded.hours(day) if recorded else []
        children = [
            self._video(
                f"{entry.entry_id}/{PLAY}/{camera}/{_epoch(start)}/{_epoch(end)}",
                f"{_local(start, '%H:%M')} - {_local(end, '%H:%M')}",
            )
            for start, end in reversed(windows)
        ]
        title = f"{self._camera_title(entry, camera)} {day:{_DAY_FORMAT}}"
        return self._folder(base, title, children)

    def _events(self, entry: IproNvrConfigEntry) -> BrowseMediaSource:
        entries = [
            log_entry
            for log_entry in entry.runtime_data.coordinator.data.event_log.entries
            if log_entry.camera is not None
        ][:MAX_EVENTS]
        children = [self._event(entry, log_entry) for log_entry in entries]
        return self._folder(f"{entry.entry_id}/{EVENTS}", f"{entry.title} events", children)

    def _event(self, entry: IproNvrConfigEntry, log_entry: LogEntry) -> BrowseMediaSource:
        assert log_entry.camera is not None
        start = _floor_minute(log_entry.time - EVENT_BEFORE)
        end = log_entry.time + EVENT_AFTER
        title = (
            f"{_local(log_entry.time, '%Y-%m-%d %H:%M:%S')} {log_entry.kind} "
            f"({self._camera_title(entry, log_entry.camera)})"
        )
        identifier = f"{entry.entry_id}/{CLIP}/{log_entry.camera}/{_epoch(start)}/{_epoch(end)}"
        return self._video(identifier, title)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _time(text: str) -> datetime:
    if not text.isdigit():
        raise Unresolvable(f"{text!r} is not a time.")
    return datetime.fromtimestamp(int(text), UTC)


def _day(text: str) -> date:
    try:
        return datetime.strptime(text, _DAY_FORMAT).date()  # noqa: DTZ007 - a calendar day
    except ValueError as err:
        raise Unresolvable(f"{text!r} is not a day.") from err
