"""Sensors: sessions in use and the newest log entries (NVR), capacity and recordings (disks)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfInformation
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .aioipro.models import Disk, LogEntry, LogList
from .const import ATTR_CAMERA, ATTR_TIME
from .coordinator import NvrState
from .data import IproNvrConfigEntry, IproNvrData
from .entity import IproNvrEntity, IproNvrEntityDescription, async_add_dynamic_entities

# The coordinator serialises every request; entities never call the NVR themselves.
PARALLEL_UPDATES = 0

type SensorValue = str | int | float | datetime | None


@dataclass(frozen=True, kw_only=True)
class IproNvrSensorEntityDescription(IproNvrEntityDescription, SensorEntityDescription):
    """Describes an NVR sensor: its value, and extra attributes, from the polled state."""

    value_fn: Callable[[NvrState], SensorValue]
    attributes_fn: Callable[[NvrState], Mapping[str, Any] | None] = lambda state: None


@dataclass(frozen=True, kw_only=True)
class IproDiskSensorEntityDescription(SensorEntityDescription):
    """Describes a sensor of one installed disk."""

    value_fn: Callable[[Disk], SensorValue]


def _newest(log: LogList) -> LogEntry | None:
    return log.entries[0] if log.entries else None


def _entry_attributes(entry: LogEntry | None) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {ATTR_TIME: entry.time.isoformat(), ATTR_CAMERA: entry.camera}


def _kind(entry: LogEntry | None) -> str | None:
    return None if entry is None else entry.kind


NVR_SENSORS: tuple[IproNvrSensorEntityDescription, ...] = (
    IproNvrSensorEntityDescription(
        key="sessions_in_use",
        translation_key="sessions_in_use",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda state: state.cameras.used_uid,
        attributes_fn=lambda state: {"limit": state.cameras.max_uid},
        supported=lambda data: data.coordinator.data.cameras.used_uid is not None,
    ),
    IproNvrSensorEntityDescription(
        key="last_event",
        translation_key="last_event",
        value_fn=lambda state: _kind(_newest(state.event_log)),
        attributes_fn=lambda state: _entry_attributes(_newest(state.event_log)),
    ),
    IproNvrSensorEntityDescription(
        key="last_error",
        translation_key="last_error",
        value_fn=lambda state: _kind(_newest(state.error_log)),
        attributes_fn=lambda state: _entry_attributes(_newest(state.error_log)),
    ),
)

DISK_SENSORS: tuple[IproDiskSensorEntityDescription, ...] = (
    IproDiskSensorEntityDescription(
        key="capacity",
        translation_key="disk_capacity",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.GIGABYTES,
        entity_category=EntityCategory.DIAGNOSTIC,
        # A constant of the disk; free space and used share are what change.
        entity_registry_enabled_default=False,
        value_fn=lambda disk: disk.capacity_gb,
    ),
    IproDiskSensorEntityDescription(
        key="free_space",
        translation_key="disk_free_space",
        device_class=SensorDeviceClass.DATA_SIZE,
        native_unit_of_measurement=UnitOfInformation.GIGABYTES,
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda disk: disk.remain_gb,
    ),
    IproDiskSensorEntityDescription(
        key="used",
        translation_key="disk_used",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=1,
        value_fn=lambda disk: disk.used_percent,
    ),
    IproDiskSensorEntityDescription(
        key="oldest_recording",
        translation_key="disk_oldest_recording",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda disk: disk.oldest,
    ),
    IproDiskSensorEntityDescription(
        key="newest_recording",
        translation_key="disk_newest_recording",
        device_class=SensorDeviceClass.TIMESTAMP,
        value_fn=lambda disk: disk.newest,
    ),
)


def _installed_disks(state: NvrState) -> Iterable[str]:
    return (disk.name for disk in state.hdd.disks if disk.installed)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the NVR sensors, and the sensors of each installed disk."""
    data = entry.runtime_data
    async_add_entities(
        IproNvrSensor(data, description)
        for description in NVR_SENSORS
        if description.supported(data)
    )
    async_add_dynamic_entities(
        entry,
        async_add_entities,
        _installed_disks,
        lambda name: (IproDiskSensor(data, description, name) for description in DISK_SENSORS),
    )


class IproNvrSensor(IproNvrEntity, SensorEntity):
    """A sensor of the NVR itself."""

    entity_description: IproNvrSensorEntityDescription

    @property
    @override
    def native_value(self) -> SensorValue:
        """Return the value from the latest poll."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the entry's time and camera (log sensors) or the session limit."""
        return self.entity_description.attributes_fn(self.coordinator.data)


class IproDiskSensor(IproNvrEntity, SensorEntity):
    """A sensor of one disk slot of the NVR."""

    entity_description: IproDiskSensorEntityDescription

    def __init__(
        self, data: IproNvrData, description: IproDiskSensorEntityDescription, disk: str
    ) -> None:
        """Attach to the NVR device; the disk name keeps unique ids apart."""
        super().__init__(data, description, f"disk_{disk}_{description.key}")
        self.disk = disk
        self._attr_translation_placeholders = {"disk": disk}

    def _disk(self) -> Disk | None:
        return next(
            (disk for disk in self.coordinator.data.hdd.disks if disk.name == self.disk), None
        )

    @property
    @override
    def available(self) -> bool:
        """Return whether the NVR answers and the disk is still installed."""
        disk = self._disk()
        return super().available and disk is not None and disk.installed

    @property
    @override
    def native_value(self) -> SensorValue:
        """Return the disk's value from the latest HDD poll."""
        disk = self._disk()
        return None if disk is None else self.entity_description.value_fn(disk)
