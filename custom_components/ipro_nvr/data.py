"""Typed runtime data of a loaded config entry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from homeassistant.config_entries import ConfigEntry

from .aioipro.client import IproClient
from .aioipro.models import NvrInfo

if TYPE_CHECKING:
    from .coordinator import IproNvrCoordinator


@dataclass(slots=True, kw_only=True)
class IproNvrData:
    """What the platforms of one NVR share while its entry is loaded.

    ``nvr_device_id`` is the device registry id of the NVR itself; camera devices link to
    it with ``via_device_id``.
    """

    client: IproClient
    coordinator: IproNvrCoordinator
    info: NvrInfo
    nvr_device_id: str


type IproNvrConfigEntry = ConfigEntry[IproNvrData]
