"""Base entities, one per device tier (NVR, camera), and the descriptions they take.

Unique ids are built on the config entry id (see devices.py): ``<entry_id>_<key>`` for the
NVR, ``<entry_id>_camera_<n>_<key>`` for a camera, ``<entry_id>_disk_<name>_<key>`` for a
disk. A platform adds camera entities through ``async_add_camera_entities`` so cameras
registered later get theirs too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import override

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .aioipro.models import CameraStatus
from .coordinator import IproNvrCoordinator, NvrState
from .data import IproNvrConfigEntry, IproNvrData
from .devices import camera_device_info, nvr_identifier


@dataclass(frozen=True, kw_only=True)
class IproNvrEntityDescription(EntityDescription):
    """Describes an entity of the NVR device; ``supported`` is asked once, at set-up."""

    supported: Callable[[IproNvrData], bool] = lambda data: True


@dataclass(frozen=True, kw_only=True)
class IproCameraEntityDescription(EntityDescription):
    """Describes an entity of a camera device; ``supported`` is asked once per camera."""

    supported: Callable[[IproNvrData, int], bool] = lambda data, camera: True


class IproNvrEntity(CoordinatorEntity[IproNvrCoordinator]):
    """An entity of the NVR device."""

    _attr_has_entity_name = True

    def __init__(
        self, data: IproNvrData, description: EntityDescription, unique_key: str | None = None
    ) -> None:
        """Attach to the coordinator; ``unique_key`` defaults to the description's key."""
        super().__init__(data.coordinator)
        self.entity_description = description
        self.runtime = data
        entry = data.coordinator.config_entry
        self._attr_unique_id = f"{entry.entry_id}_{unique_key or description.key}"
        self._attr_device_info = DeviceInfo(identifiers={nvr_identifier(entry)})


class IproCameraEntity(CoordinatorEntity[IproNvrCoordinator]):
    """An entity of one camera's device; available while the NVR has the camera registered."""

    _attr_has_entity_name = True

    def __init__(self, data: IproNvrData, description: EntityDescription, camera: int) -> None:
        """Attach to the coordinator and to the camera's device."""
        super().__init__(data.coordinator)
        self.entity_description = description
        self.runtime = data
        self.camera = camera
        entry = data.coordinator.config_entry
        self._attr_unique_id = f"{entry.entry_id}_camera_{camera}_{description.key}"
        self._attr_device_info = camera_device_info(entry, camera, data.nvr_device_id)
        self._polled = self._camera_poll()

    @property
    @override
    def available(self) -> bool:
        """Return whether the NVR answers and still has this camera registered."""
        return super().available and self.camera in self.coordinator.data.cameras.registered

    def _camera_poll(self) -> tuple[bool, CameraStatus | None]:
        """Return what a camera entity shows from the polls: reachability and its status."""
        coordinator = self.coordinator
        return coordinator.last_update_success, coordinator.data.cameras.cameras.get(self.camera)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state only when the NVR's reachability or this camera's status changed.

        Every new log entry changes the coordinator's data, and would otherwise make every
        camera entity (over 600 on a 128-camera NVR) write its unchanged state again.
        """
        polled = self._camera_poll()
        if polled != self._polled:
            self._polled = polled
            super()._handle_coordinator_update()


@callback
def async_add_dynamic_entities[K: Hashable](
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    keys: Callable[[NvrState], Iterable[K]],
    create: Callable[[K], Iterable[Entity]],
) -> None:
    """Add entities for each key the NVR reports now, and for keys that show up later.

    A key that disappears (a camera removed from the NVR: the coordinator removes its
    device, and the entities with it) gets new entities if it comes back.
    """
    coordinator = entry.runtime_data.coordinator
    known: set[K] = set()

    @callback
    def add_new() -> None:
        current = set(keys(coordinator.data))
        known.intersection_update(current)
        if new := [key for key in keys(coordinator.data) if key not in known]:
            known.update(new)
            async_add_entities([entity for key in new for entity in create(key)])

    add_new()
    entry.async_on_unload(coordinator.async_add_listener(add_new))


@callback
def async_add_camera_entities(
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
    create: Callable[[int], Iterable[Entity]],
) -> None:
    """Add ``create(camera)`` for every registered camera, now and when one is registered."""
    async_add_dynamic_entities(
        entry, async_add_entities, lambda state: state.cameras.registered, create
    )
