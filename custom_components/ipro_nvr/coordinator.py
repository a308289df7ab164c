"""One coordinator per NVR: polls on separate cadences, and turns new log entries into events.

The client's pacer lets one command through every 3 s. A refresh therefore asks for the
event log (every refresh) and at most one more thing that is due (error log, camera
status, disks), so the next event-log poll never waits behind a queue: with the default
5 s interval a new event-log entry reaches the bus within about 8 s (one extra command
plus the interval), even when something else is due.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
import logging
from typing import Any, override

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.storage import Store
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
from homeassistant.util import dt as dt_util

from .aioipro.client import IproClient
from .aioipro.errors import IproAuthError, IproError, IproNoFreeSessionError
from .aioipro.models import CameraConnectionInfo, HddInfo, LogEntry, LogList, LogType
from .const import (
    ATTR_CAMERA,
    ATTR_DEVICE_ID,
    ATTR_ENTRY_ID,
    ATTR_KIND,
    ATTR_LOG,
    ATTR_TIME,
    ATTR_TYPE,
    CONF_EVENT_LOG_INTERVAL,
    CONF_HDD_INTERVAL,
    CONF_STATUS_INTERVAL,
    DEFAULT_EVENT_LOG_INTERVAL,
    DEFAULT_HDD_INTERVAL,
    DEFAULT_STATUS_INTERVAL,
    DOMAIN,
    EVENT_IPRO_NVR,
    STORAGE_SAVE_DELAY,
    STORAGE_VERSION,
    LogEventType,
)
from .data import IproNvrConfigEntry
from .devices import camera_device_info, camera_from_identifiers
from .issues import async_update_disk_fault_issue, async_update_no_free_session_issue
from .logs import LogTracker, classify_kind, disk_fault
from .util import translation_key

_LOGGER = logging.getLogger(__name__)


class Poll(StrEnum):
    """What a refresh may ask for besides the event log."""

    ERROR_LOG = "error_log"
    CAMERAS = "cameras"
    HDD = "hdd"


@dataclass(frozen=True, slots=True, kw_only=True)
class NvrState:
    """The latest answer to each poll."""

    cameras: CameraConnectionInfo
    event_log: LogList
    error_log: LogList
    hdd: HddInfo


@dataclass(frozen=True, slots=True, kw_only=True)
class NewLogEntry:
    """A log entry seen for the first time, with what it means and whom it concerns."""

    log: LogType
    entry: LogEntry
    event_type: LogEventType
    device_id: str

    def event_data(self, entry_id: str) -> dict[str, Any]:
        """Return the data of the ``ipro_nvr_event`` bus event."""
        return {
            ATTR_LOG: self.log.value,
            ATTR_KIND: self.entry.kind,
            ATTR_CAMERA: self.entry.camera,
            ATTR_TIME: self.entry.time.isoformat(),
            ATTR_TYPE: self.event_type.value,
            ATTR_ENTRY_ID: entry_id,
            ATTR_DEVICE_ID: self.device_id,
        }


type LogListener = Callable[[NewLogEntry], None]


def _seen_store(hass: HomeAssistant, entry_id: str) -> Store[dict[str, Any]]:
    """Return the store of what one entry has seen in the NVR's logs."""
    return Store(hass, STORAGE_VERSION, f"{DOMAIN}.{entry_id}")


async def async_remove_seen_store(hass: HomeAssistant, entry_id: str) -> None:
    """Delete what a removed entry had seen in the logs."""
    await _seen_store(hass, entry_id).async_remove()


class IproNvrCoordinator(DataUpdateCoordinator[NvrState]):
    """Poll one NVR and fire each new log entry exactly once."""

    config_entry: IproNvrConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: IproNvrConfigEntry,
        client: IproClient,
        nvr_device_id: str,
    ) -> None:
        options = entry.options
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            # Log lines ("Error fetching ... data") name the NVR.
            name=f"i-PRO NVR {entry.title}",
            update_interval=timedelta(
                seconds=options.get(CONF_EVENT_LOG_INTERVAL, DEFAULT_EVENT_LOG_INTERVAL)
            ),
            always_update=False,
        )
        self.client = client
        self.nvr_device_id = nvr_device_id
        status = timedelta(seconds=options.get(CONF_STATUS_INTERVAL, DEFAULT_STATUS_INTERVAL))
        self._intervals = {
            Poll.ERROR_LOG: status,
            Poll.CAMERAS: status,
            Poll.HDD: timedelta(seconds=options.get(CONF_HDD_INTERVAL, DEFAULT_HDD_INTERVAL)),
        }
        self._due: dict[Poll, datetime] = {}
        self._store = _seen_store(hass, entry.entry_id)
        self._trackers: dict[LogType, LogTracker] = {}
        self._log_listeners: list[LogListener] = []
        self._camera_devices: dict[int, str] = {}
        # A manual refresh (homeassistant.update_entity) must not run beside the
        # scheduled one and pile a second set of commands up behind the pacer.
        self._poll_lock = asyncio.Lock()

    @override
    async def _async_setup(self) -> None:
        """Restore what was seen in the logs before the last restart."""
        stored = await self._store.async_load() or {}
        self._trackers = {log: LogTracker.from_json(stored.get(log.value)) for log in LogType}
        self._camera_devices = {
            number: device.id
            for device in dr.async_entries_for_config_entry(
                dr.async_get(self.hass), self.config_entry.entry_id
            )
            if (number := camera_from_identifiers(self.config_entry, device.identifiers))
            is not None
        }

    @callback
    def async_add_log_listener(self, listener: LogListener) -> CALLBACK_TYPE:
        """Call ``listener`` for every new log entry; return the function that stops it."""
        self._log_listeners.append(listener)
        return lambda: self._log_listeners.remove(listener)

    async def async_stop(self) -> None:
        """Stop polling, let a running poll finish, and write what was seen right away.

        Called on unload and when Home Assistant stops, before the client logs out; the
        reloaded entry then starts from exactly what this one saw.
        """
        await self.async_shutdown()
        async with self._poll_lock:
            await self._store.async_save(self._stored_data())

    @override
    async def _async_update_data(self) -> NvrState:
        async with self._poll_lock:
            try:
                state = await self._async_poll()
            except IproAuthError as err:
                raise ConfigEntryAuthFailed(
                    translation_domain=DOMAIN,
                    translation_key="invalid_auth",
                    translation_placeholders={"error": str(err)},
                ) from err
            except IproError as err:
                async_update_no_free_session_issue(
                    self.hass,
                    self.config_entry,
                    active=isinstance(err, IproNoFreeSessionError),
                )
                raise UpdateFailed(
                    translation_domain=DOMAIN,
                    translation_key=translation_key(err),
                    translation_placeholders={"error": str(err)},
                ) from err
        async_update_no_free_session_issue(self.hass, self.config_entry, active=False)
        return state

    async def _async_poll(self) -> NvrState:
        """Ask for the event log and whatever else is due (everything the first time)."""
        now = dt_util.utcnow()
        if not self._due:
            cameras = await self._async_poll_cameras()
            event_log = await self._async_poll_log(LogType.EVENT)
            error_log = await self._async_poll_log(LogType.ERROR)
            hdd = await self.client.get_hdd_info()
            self._due = {poll: now + interval for poll, interval in self._intervals.items()}
            return NvrState(cameras=cameras, event_log=event_log, error_log=error_log, hdd=hdd)

        state = replace(self.data, event_log=await self._async_poll_log(LogType.EVENT))
        due = [poll for poll, when in self._due.items() if when <= now]
        if not due:
            return state
        poll = min(due, key=self._due.__getitem__)
        self._due[poll] = now + self._intervals[poll]
        if poll is Poll.ERROR_LOG:
            return replace(state, error_log=await self._async_poll_log(LogType.ERROR))
        if poll is Poll.CAMERAS:
            return replace(state, cameras=await self._async_poll_cameras())
        return replace(state, hdd=await self.client.get_hdd_info())

    async def _async_poll_cameras(self) -> CameraConnectionInfo:
        """Fetch camera status and keep one device per registered camera."""
        cameras = await self.client.get_camera_connection()
        self._sync_camera_devices(cameras)
        return cameras

    @callback
    def _sync_camera_devices(self, cameras: CameraConnectionInfo) -> None:
        """Create devices for newly registered cameras, remove those of removed ones.

        Only a camera the NVR reports as not registered is removed: one missing from the
        answer (an answer cut short) keeps its device, entities and their settings.
        """
        registry = dr.async_get(self.hass)
        entry = self.config_entry
        registered = cameras.registered
        for number in registered:
            if number not in self._camera_devices:
                device = registry.async_get_or_create(
                    config_entry_id=entry.entry_id,
                    **camera_device_info(entry, number, self.nvr_device_id),
                )
                self._camera_devices[number] = device.id
        for number in set(self._camera_devices) - set(registered):
            if number not in cameras.cameras:
                continue
            device_id = self._camera_devices.pop(number)
            if registry.async_get(device_id) is not None:
                _LOGGER.info("Camera %s is no longer registered on %s", number, entry.title)
                registry.async_remove_device(device_id)

    async def _async_poll_log(self, log: LogType) -> LogList:
        """Fetch one log, then announce its new entries, oldest first."""
        if log is LogType.EVENT:
            log_list = await self.client.get_event_log()
        else:
            log_list = await self.client.get_error_log()
            async_update_disk_fault_issue(
                self.hass, self.config_entry, disk_fault(log_list.entries)
            )
        tracker = self._trackers[log]
        new_entries = tracker.update(log_list)
        if tracker.dirty:
            self._store.async_delay_save(self._stored_data, STORAGE_SAVE_DELAY)
        for entry in new_entries:
            self._announce(log, entry)
        return log_list

    @callback
    def _announce(self, log: LogType, entry: LogEntry) -> None:
        """Fire the bus event of one new entry and tell the event entities."""
        device_id = self.nvr_device_id
        if entry.camera is not None:
            device_id = self._camera_devices.get(entry.camera, device_id)
        new = NewLogEntry(
            log=log, entry=entry, event_type=classify_kind(entry.kind), device_id=device_id
        )
        self.hass.bus.async_fire(EVENT_IPRO_NVR, new.event_data(self.config_entry.entry_id))
        for listener in list(self._log_listeners):
            listener(new)

    def _stored_data(self) -> dict[str, Any]:
        """Return what the store keeps: the seen multiset of each log."""
        return {
            log.value: rows
            for log, tracker in self._trackers.items()
            if (rows := tracker.as_json()) is not None
        }
