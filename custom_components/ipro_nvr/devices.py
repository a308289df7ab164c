"""Device registry identities of an NVR and its cameras.

There is no serial number in the CGI interface, and host:port changes with a reconfigure,
so device identifiers (and entity unique ids) are built on the config entry id: stable for
the life of the entry, whatever address the NVR moves to.
"""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers.device_registry import DeviceInfo

from .aioipro.models import NvrInfo
from .const import DOMAIN, MANUFACTURER

_CAMERA_INFIX = "_camera_"


def nvr_identifier(entry: ConfigEntry) -> tuple[str, str]:
    """Return the device registry identifier of the NVR."""
    return (DOMAIN, entry.entry_id)


def camera_identifier(entry: ConfigEntry, camera: int) -> tuple[str, str]:
    """Return the device registry identifier of one camera of the NVR."""
    return (DOMAIN, f"{entry.entry_id}{_CAMERA_INFIX}{camera}")


def camera_from_identifiers(entry: ConfigEntry, identifiers: set[tuple[str, str]]) -> int | None:
    """Return the camera number a device's identifiers name, or None for another device."""
    prefix = f"{entry.entry_id}{_CAMERA_INFIX}"
    for domain, identifier in identifiers:
        if domain == DOMAIN and identifier.startswith(prefix):
            number = identifier.removeprefix(prefix)
            if number.isdigit():
                return int(number)
    return None


def nvr_device_info(entry: ConfigEntry, info: NvrInfo) -> DeviceInfo:
    """Return the NVR's device info (model from the login page title)."""
    return DeviceInfo(
        identifiers={nvr_identifier(entry)},
        manufacturer=MANUFACTURER,
        model=info.model,
        name=info.model,
    )


def camera_device_info(entry: ConfigEntry, camera: int, nvr_device_id: str) -> DeviceInfo:
    """Return a camera's device info, linked to the NVR device it is recorded by."""
    return DeviceInfo(
        identifiers={camera_identifier(entry, camera)},
        translation_key="camera",
        translation_placeholders={"nvr": entry.title, "number": str(camera)},
        via_device_id=nvr_device_id,
    )
