"""A preset select per PTZ camera, so Assist can "set <camera> preset to Gate".

The options are the names the user gave the camera's presets in the options flow. The
NVR cannot tell where a camera looks, so the state is the preset last sent through Home
Assistant, and becomes unknown once anything else moves the camera.
"""

from __future__ import annotations

from dataclasses import dataclass
import re
from typing import override

from homeassistant.components.select import SelectEntity, SelectEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import IproNvrConfigEntry, IproNvrData
from .entity import IproCameraEntity, IproCameraEntityDescription
from .ptz import PtzController, async_add_ptz_entities, async_get_ptz_controller, ptz_presets
from .util import raise_translated_error

# The client's pacer queues camera control on its own 0.2 s lane.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class IproCameraSelectEntityDescription(IproCameraEntityDescription, SelectEntityDescription):
    """Describes a select of one camera."""


def _has_presets(data: IproNvrData, camera: int) -> bool:
    return bool(ptz_presets(data.coordinator.config_entry.options, camera))


PRESET_SELECT = IproCameraSelectEntityDescription(
    key="preset", translation_key="preset", supported=_has_presets
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the preset select of every registered PTZ camera with named presets."""
    async_add_ptz_entities(
        hass,
        entry,
        async_add_entities,
        domain=Platform.SELECT,
        own_key=re.compile(PRESET_SELECT.key),
        descriptions=lambda camera: (PRESET_SELECT,),
        create=IproPresetSelect,
    )


class IproPresetSelect(IproCameraEntity, SelectEntity):
    """The named presets of a PTZ camera; selecting one moves the camera there."""

    entity_description: IproCameraSelectEntityDescription

    def __init__(
        self, data: IproNvrData, description: IproCameraSelectEntityDescription, camera: int
    ) -> None:
        """Take the preset names from the entry's options."""
        super().__init__(data, description, camera)
        self._presets = ptz_presets(data.coordinator.config_entry.options, camera)
        self._numbers = {name: number for number, name in self._presets.items()}
        self._attr_options = list(self._presets.values())

    @property
    def _controller(self) -> PtzController:
        return async_get_ptz_controller(self.hass, self.coordinator.config_entry)

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the camera's current preset."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self._controller.async_add_listener(self.camera, self.async_write_ha_state)
        )

    @property
    @override
    def current_option(self) -> str | None:
        """Return the name of the preset last sent, or None once the camera moved."""
        number = self._controller.current_preset(self.camera)
        return None if number is None else self._presets.get(number)

    @override
    @raise_translated_error
    async def async_select_option(self, option: str) -> None:
        """Move the camera to the preset of that name."""
        # The select platform has already refused names that are not in the options.
        await self._controller.async_goto_preset(self.camera, self._numbers[option])
