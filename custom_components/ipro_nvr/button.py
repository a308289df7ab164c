"""Buttons of PTZ cameras: a move in each direction, stop, and go to each named preset.

Which cameras are PTZ, and the names of their presets, come from the entry's options,
so Assist can "press Go to Gate". Each direction press sends one command: i-PRO cameras
move for about 2 s on one command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
import re
from typing import Any, override

from homeassistant.components.button import ButtonEntity, ButtonEntityDescription
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .data import IproNvrConfigEntry, IproNvrData
from .entity import IproCameraEntity, IproCameraEntityDescription
from .ptz import (
    PtzController,
    async_add_ptz_entities,
    async_get_ptz_controller,
    ptz_cameras,
    ptz_presets,
)
from .util import raise_translated_error

# The client's pacer queues camera control on its own 0.2 s lane.
PARALLEL_UPDATES = 0

# Speeds of a direction press: half of the fastest pan/tilt (256), half of the zoom (4).
PAN_TILT_SPEED = 128
ZOOM_SPEED = 2

type PressFn = Callable[[PtzController, int], Awaitable[None]]


@dataclass(frozen=True, kw_only=True)
class IproPtzButtonEntityDescription(IproCameraEntityDescription, ButtonEntityDescription):
    """Describes a button of a PTZ camera by what a press sends."""

    press_fn: PressFn


def _is_ptz(data: IproNvrData, camera: int) -> bool:
    return camera in ptz_cameras(data.coordinator.config_entry.options)


def _move(pan: int = 0, tilt: int = 0, zoom: int = 0) -> PressFn:
    def press(controller: PtzController, camera: int) -> Awaitable[None]:
        return controller.async_move(camera, pan=pan, tilt=tilt, zoom=zoom)

    return press


def _goto(number: int) -> PressFn:
    def press(controller: PtzController, camera: int) -> Awaitable[None]:
        return controller.async_goto_preset(camera, number)

    return press


# Pan: positive is right. Tilt: positive is down. Zoom: positive is in (tele).
DIRECTION_BUTTONS: tuple[IproPtzButtonEntityDescription, ...] = tuple(
    IproPtzButtonEntityDescription(
        key=key, translation_key=key, supported=_is_ptz, press_fn=_move(**speeds)
    )
    for key, speeds in (
        ("ptz_left", {"pan": -PAN_TILT_SPEED}),
        ("ptz_right", {"pan": PAN_TILT_SPEED}),
        ("ptz_up", {"tilt": -PAN_TILT_SPEED}),
        ("ptz_down", {"tilt": PAN_TILT_SPEED}),
        ("ptz_zoom_in", {"zoom": ZOOM_SPEED}),
        ("ptz_zoom_out", {"zoom": -ZOOM_SPEED}),
        ("ptz_stop", {}),
    )
)

# Unique-id keys this platform owns (entity.py: ``<entry_id>_camera_<n>_<key>``).
_OWN_KEY = re.compile(r"ptz_[a-z_]+|preset_\d+")


def preset_buttons(
    options: Mapping[str, Any], camera: int
) -> tuple[IproPtzButtonEntityDescription, ...]:
    """Return a "Go to <name>" button description for each named preset of a camera."""
    return tuple(
        IproPtzButtonEntityDescription(
            key=f"preset_{number}",
            translation_key="goto_preset",
            translation_placeholders={"preset": name},
            press_fn=_goto(number),
        )
        for number, name in ptz_presets(options, camera).items()
    )


async def async_setup_entry(
    hass: HomeAssistant,
    entry: IproNvrConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the buttons of every registered PTZ camera; drop those the options no longer name."""
    async_add_ptz_entities(
        hass,
        entry,
        async_add_entities,
        domain=Platform.BUTTON,
        own_key=_OWN_KEY,
        descriptions=lambda camera: (*DIRECTION_BUTTONS, *preset_buttons(entry.options, camera)),
        create=IproPtzButton,
    )


class IproPtzButton(IproCameraEntity, ButtonEntity):
    """A button that moves a PTZ camera."""

    entity_description: IproPtzButtonEntityDescription

    @override
    @raise_translated_error
    async def async_press(self) -> None:
        """Send the camera-control command of this button."""
        controller = async_get_ptz_controller(self.hass, self.coordinator.config_entry)
        await self.entity_description.press_fn(controller, self.camera)
