"""Camera-control services: PTZ, centring, focus, iris, presets and AUX outputs.

Registered once, in ``async_setup``, so they exist whatever entries are loaded. They
target this integration's camera entities (or a camera's device), resolved by
targets.py, so the services work whatever platform the targeted entity is on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from enum import StrEnum
import re
from typing import Any, Final

from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import VolSchemaType
import probatio

from .aioipro.models import AuxAction, FocusAction, IrisAction
from .const import DOMAIN
from .ptz import (
    AUX_OUTPUTS,
    PAN_TILT_LIMIT,
    PRESET_NUMBERS,
    ZOOM_LIMIT,
    async_get_ptz_controller,
)
from .recordings import async_register_download_service
from .targets import CameraTarget, async_camera_targets
from .util import raise_translated_error

SERVICE_PTZ_MOVE: Final = "ptz_move"
SERVICE_PTZ_CENTER: Final = "ptz_center"
SERVICE_FOCUS: Final = "focus"
SERVICE_IRIS: Final = "iris"
SERVICE_SET_PRESET: Final = "set_preset"
SERVICE_GOTO_PRESET: Final = "goto_preset"
SERVICE_AUX: Final = "aux"

ATTR_PAN: Final = "pan"
ATTR_TILT: Final = "tilt"
ATTR_ZOOM: Final = "zoom"
ATTR_DURATION: Final = "duration"
ATTR_X: Final = "x"
ATTR_Y: Final = "y"
ATTR_ACTION: Final = "action"
ATTR_PRESET: Final = "preset"
ATTR_OUTPUT: Final = "output"

MAX_DURATION: Final = 300.0
MAX_IMAGE_POSITION: Final = 65535


def _integer(name: str, low: int, high: int) -> probatio.All[int]:
    """Return a validator of a whole number in ``low..high`` whose errors name the field.

    ``1.5`` is refused rather than truncated: a speed or preset the user did not ask for
    must not reach the camera.
    """

    def whole(value: Any) -> int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
            return int(value)
        raise probatio.Invalid(f"{name} must be a whole number")

    return probatio.All(
        whole, probatio.Range(min=low, max=high, msg=f"{name} must be between {low} and {high}")
    )


def _action[A: StrEnum](actions: type[A]) -> probatio.All[A]:
    """Return a validator of an action name (any case) giving the client's enum member."""
    choices = [action.value.lower() for action in actions]

    def member(value: str) -> A:
        return actions(value.upper())

    return probatio.All(
        str,
        probatio.Lower,
        probatio.In(choices, msg=f"action must be one of {', '.join(choices)}"),
        member,
    )


_PRESET = _integer(ATTR_PRESET, PRESET_NUMBERS.start, PRESET_NUMBERS.stop - 1)

SCHEMAS: Final[dict[str, VolSchemaType]] = {
    SERVICE_PTZ_MOVE: cv.make_entity_service_schema(
        {
            probatio.Optional(ATTR_PAN, default=0): _integer(
                ATTR_PAN, -PAN_TILT_LIMIT, PAN_TILT_LIMIT
            ),
            probatio.Optional(ATTR_TILT, default=0): _integer(
                ATTR_TILT, -PAN_TILT_LIMIT, PAN_TILT_LIMIT
            ),
            probatio.Optional(ATTR_ZOOM, default=0): _integer(ATTR_ZOOM, -ZOOM_LIMIT, ZOOM_LIMIT),
            probatio.Optional(ATTR_DURATION): probatio.All(
                probatio.Coerce(float, msg="duration must be a number of seconds"),
                probatio.Range(
                    min=0,
                    max=MAX_DURATION,
                    min_included=False,
                    msg=f"duration must be more than 0 and at most {MAX_DURATION:g} seconds",
                ),
            ),
        }
    ),
    SERVICE_PTZ_CENTER: cv.make_entity_service_schema(
        {
            probatio.Required(ATTR_X): _integer(ATTR_X, 0, MAX_IMAGE_POSITION),
            probatio.Required(ATTR_Y): _integer(ATTR_Y, 0, MAX_IMAGE_POSITION),
        }
    ),
    SERVICE_FOCUS: cv.make_entity_service_schema(
        {probatio.Required(ATTR_ACTION): _action(FocusAction)}
    ),
    SERVICE_IRIS: cv.make_entity_service_schema(
        {probatio.Required(ATTR_ACTION): _action(IrisAction)}
    ),
    SERVICE_SET_PRESET: cv.make_entity_service_schema({probatio.Required(ATTR_PRESET): _PRESET}),
    SERVICE_GOTO_PRESET: cv.make_entity_service_schema({probatio.Required(ATTR_PRESET): _PRESET}),
    SERVICE_AUX: cv.make_entity_service_schema(
        {
            probatio.Required(ATTR_OUTPUT): _integer(
                ATTR_OUTPUT, AUX_OUTPUTS.start, AUX_OUTPUTS.stop - 1
            ),
            probatio.Required(ATTR_ACTION): _action(AuxAction),
        }
    ),
}


type CameraAction = Callable[[HomeAssistant, CameraTarget, dict[str, Any]], Awaitable[None]]


async def _ptz_move(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await async_get_ptz_controller(hass, target.entry).async_move(
        target.camera,
        pan=data[ATTR_PAN],
        tilt=data[ATTR_TILT],
        zoom=data[ATTR_ZOOM],
        duration=data.get(ATTR_DURATION),
    )


async def _ptz_center(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await async_get_ptz_controller(hass, target.entry).async_center(
        target.camera, data[ATTR_X], data[ATTR_Y]
    )


async def _focus(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await target.entry.runtime_data.client.focus(target.camera, data[ATTR_ACTION])


async def _iris(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await target.entry.runtime_data.client.iris(target.camera, data[ATTR_ACTION])


async def _set_preset(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await async_get_ptz_controller(hass, target.entry).async_set_preset(
        target.camera, data[ATTR_PRESET]
    )


async def _goto_preset(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await async_get_ptz_controller(hass, target.entry).async_goto_preset(
        target.camera, data[ATTR_PRESET]
    )


async def _aux(hass: HomeAssistant, target: CameraTarget, data: dict[str, Any]) -> None:
    await target.entry.runtime_data.client.aux(target.camera, data[ATTR_OUTPUT], data[ATTR_ACTION])


ACTIONS: Final[dict[str, CameraAction]] = {
    SERVICE_PTZ_MOVE: _ptz_move,
    SERVICE_PTZ_CENTER: _ptz_center,
    SERVICE_FOCUS: _focus,
    SERVICE_IRIS: _iris,
    SERVICE_SET_PRESET: _set_preset,
    SERVICE_GOTO_PRESET: _goto_preset,
    SERVICE_AUX: _aux,
}


def _handler(action: CameraAction) -> Callable[[ServiceCall], Coroutine[Any, Any, None]]:
    """Return a service handler running ``action`` on each targeted camera in turn."""

    @raise_translated_error
    async def handle(call: ServiceCall) -> None:
        for target in async_camera_targets(call):
            await action(call.hass, target, dict(call.data))

    return handle


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the camera-control services (once, from ``async_setup``)."""
    for service, action in ACTIONS.items():
        hass.services.async_register(DOMAIN, service, _handler(action), schema=SCHEMAS[service])
    async_register_download_service(hass)
