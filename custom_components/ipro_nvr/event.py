"""Event entities: the NVR's event and error logs, and each camera's share of them."""

from __future__ import annotations

from typing import override

from homeassistant.components.event import EventEntity, EventEntityDescription
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .aioipro.models import LogType
from .const import ATTR_CAMERA, ATTR_KIND, ATTR_LOG, ATTR_TIME, LOG_EVENT_TYPES
from .coordinator import NewLogEntry
from .data import IproNvrConfigEntry, IproNvrData
from .entity import IproCameraEntity, IproNvrEntity, async_add_camera_entities

# Events come from the coordinator's polls; entities never call the NVR themselves.
PARALLEL_UPDATES = 0

LOG_DESCRIPTIONS: dict[LogType, EventEntityDescription] = {
    LogType.EVENT: EventEntityDescription(
        key="event_log", translation_key="event_log", event_types=LOG_EVENT_TYPES
    ),
    LogType.ERROR: EventEntityDescription(
        key="error_log", translation_key="error_log", event_types=LOG_EVENT_TYPES
    ),
}
CAMERA_LOG_DESCRIPTION = EventEntityDescription(
    key="log", translation_key="camera_log", event_types=LOG_EVENT_TYPES
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the two log event entities of the NVR and one per registered camera."""
    data = entry.runtime_data
    async_add_entities(
        IproNvrLogEvent(data, description, log) for log, description in LOG_DESCRIPTIONS.items()
    )
    async_add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: [IproCameraLogEvent(data, CAMERA_LOG_DESCRIPTION, camera)],
    )


class IproNvrLogEvent(IproNvrEntity, EventEntity):
    """Every new entry of one of the NVR's logs."""

    def __init__(
        self, data: IproNvrData, description: EventEntityDescription, log: LogType
    ) -> None:
        """Listen to one log."""
        super().__init__(data, description)
        self.log = log

    @override
    async def async_added_to_hass(self) -> None:
        """Start listening to new log entries."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.async_add_log_listener(self._handle_new_entry))

    @callback
    def _handle_new_entry(self, new: NewLogEntry) -> None:
        if new.log is not self.log:
            return
        self._trigger_event(
            new.event_type,
            {
                ATTR_KIND: new.entry.kind,
                ATTR_CAMERA: new.entry.camera,
                ATTR_TIME: new.entry.time.isoformat(),
            },
        )
        self.async_write_ha_state()


class IproCameraLogEvent(IproCameraEntity, EventEntity):
    """Every new entry, in either log, that names this camera."""

    @override
    async def async_added_to_hass(self) -> None:
        """Start listening to new log entries."""
        await super().async_added_to_hass()
        self.async_on_remove(self.coordinator.async_add_log_listener(self._handle_new_entry))

    @callback
    def _handle_new_entry(self, new: NewLogEntry) -> None:
        if new.entry.camera != self.camera:
            return
        self._trigger_event(
            new.event_type,
            {
                ATTR_KIND: new.entry.kind,
                ATTR_LOG: new.log.value,
                ATTR_TIME: new.entry.time.isoformat(),
            },
        )
        self.async_write_ha_state()
