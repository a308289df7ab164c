"""Binary sensors: whether the NVR reaches each registered camera."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .aioipro.models import CameraStatus
from .data import IproNvrConfigEntry
from .entity import IproCameraEntity, IproCameraEntityDescription, async_add_camera_entities

# The coordinator serialises every request; entities never call the NVR themselves.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class IproCameraBinarySensorEntityDescription(
    IproCameraEntityDescription, BinarySensorEntityDescription
):
    """Describes a camera binary sensor by the camera's connection status."""

    is_on_fn: Callable[[CameraStatus], bool | None]


CAMERA_BINARY_SENSORS: tuple[IproCameraBinarySensorEntityDescription, ...] = (
    IproCameraBinarySensorEntityDescription(
        key="connection",
        translation_key="connection",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        is_on_fn=lambda status: status is CameraStatus.NORMAL,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the binary sensors of every registered camera."""
    data = entry.runtime_data
    async_add_camera_entities(
        entry,
        async_add_entities,
        lambda camera: (
            IproCameraBinarySensor(data, description, camera)
            for description in CAMERA_BINARY_SENSORS
            if description.supported(data, camera)
        ),
    )


class IproCameraBinarySensor(IproCameraEntity, BinarySensorEntity):
    """A binary sensor of one camera."""

    entity_description: IproCameraBinarySensorEntityDescription

    @property
    @override
    def is_on(self) -> bool | None:
        """Return the state from the latest camera status poll."""
        status = self.coordinator.data.cameras.cameras.get(self.camera)
        return None if status is None else self.entity_description.is_on_fn(status)
