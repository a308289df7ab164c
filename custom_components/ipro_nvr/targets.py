"""The cameras a service call targets, for every service that acts on cameras.

Kept apart from services.py and recordings.py so both use this one resolver: services.py
registers the ``download_clip`` service of recordings.py, so neither can import the other.
A target resolves through the registries to a config entry and a camera number, so an
entity names its camera whatever platform it is on.
"""

from __future__ import annotations

from dataclasses import dataclass
import re

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.target import TargetSelection, async_extract_referenced_entity_ids

from .const import DOMAIN
from .data import IproNvrConfigEntry
from .devices import camera_from_identifiers


@dataclass(frozen=True, slots=True, kw_only=True)
class CameraTarget:
    """One camera a service call acts on, on a loaded NVR entry.

    ``entity_id`` is the entity that named the camera, None when a device did.
    """

    entry: IproNvrConfigEntry
    camera: int
    entity_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class _Found:
    """A camera found in the registries, before its entry is known to be loaded."""

    entry_id: str
    camera: int
    name: str  # how the call named it, for the error if its NVR is not loaded
    entity_id: str | None = None


def camera_from_unique_id(entry_id: str, unique_id: str) -> int | None:
    """Return the camera number in a camera entity's unique id, or None.

    Camera entities' unique ids are ``<entry_id>_camera_<n>_<key>`` (entity.py).
    """
    match = re.fullmatch(rf"{re.escape(entry_id)}_camera_(\d+)_.+", unique_id)
    return None if match is None else int(match.group(1))


def _camera_of_entity(registry: er.EntityRegistry, entity_id: str) -> _Found | None:
    """Return the camera an entity of this integration belongs to, on any platform."""
    entity = registry.async_get(entity_id)
    if entity is None or entity.platform != DOMAIN or entity.config_entry_id is None:
        return None
    if (camera := camera_from_unique_id(entity.config_entry_id, entity.unique_id)) is None:
        return None
    return _Found(
        entry_id=entity.config_entry_id, camera=camera, name=entity_id, entity_id=entity_id
    )


def _camera_of_device(hass: HomeAssistant, device_id: str) -> _Found | None:
    """Return the camera a device of this integration stands for.

    A device belongs to one config entry (``config_entry_id``; ``config_entries`` is
    deprecated). A composite device id, one from before devices were split per entry,
    reaches here already resolved to its split devices, so it is not looked up again.
    """
    device = dr.async_get(hass).async_get(device_id, include_composite_devices=False)
    if device is None:
        return None
    entry = hass.config_entries.async_get_entry(device.config_entry_id)
    if entry is None or entry.domain != DOMAIN:
        return None
    if (camera := camera_from_identifiers(entry, device.identifiers)) is None:
        return None
    return _Found(entry_id=entry.entry_id, camera=camera, name=device.name_by_user or device_id)


def _not_a_camera(target: str) -> ServiceValidationError:
    return ServiceValidationError(
        translation_domain=DOMAIN,
        translation_key="not_a_camera",
        translation_placeholders={"target": target},
    )


@callback
def async_camera_targets(call: ServiceCall) -> list[CameraTarget]:
    """Resolve a call's target to the cameras of loaded entries, each once, in order.

    An entity or a device named explicitly must be a camera of this integration; what a
    device, an area or a label reaches is only filtered. Cameras come sorted by entry
    and number; one named by an entity keeps that entity's id.
    """
    hass = call.hass
    selection = TargetSelection(call.data)
    selected = async_extract_referenced_entity_ids(hass, selection)
    entity_registry = er.async_get(hass)
    found: dict[tuple[str, int], _Found] = {}

    for entity_id in sorted(selected.referenced | selected.indirectly_referenced):
        if (camera := _camera_of_entity(entity_registry, entity_id)) is not None:
            found.setdefault((camera.entry_id, camera.camera), camera)
        elif entity_id in selected.referenced:
            raise _not_a_camera(entity_id)
    for device_id in sorted(selected.referenced_devices):
        if (camera := _camera_of_device(hass, device_id)) is not None:
            found.setdefault((camera.entry_id, camera.camera), camera)
        elif device_id in selection.device_ids:
            raise _not_a_camera(device_id)

    if not found:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="no_camera_target",
            translation_placeholders={"service": f"{call.domain}.{call.service}"},
        )
    targets: list[CameraTarget] = []
    for key in sorted(found):
        camera = found[key]
        entry = hass.config_entries.async_get_entry(camera.entry_id)
        if entry is None or entry.state is not ConfigEntryState.LOADED:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="not_loaded",
                translation_placeholders={"target": camera.name},
            )
        targets.append(CameraTarget(entry=entry, camera=camera.camera, entity_id=camera.entity_id))
    return targets
