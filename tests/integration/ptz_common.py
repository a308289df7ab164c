"""Helpers of the camera-control tests: PTZ options, targets and the control requests sent."""

from __future__ import annotations

import asyncio
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.devices import camera_identifier
from custom_components.ipro_nvr.ptz import CONF_PTZ_CAMERAS, CONF_PTZ_PRESETS
from ipro_sim import NvrSimulator

CONTROL_CGIS = ("camctl.cgi", "directctrl.cgi")

# Camera 1 is a PTZ camera with two named presets; camera 2 is PTZ without names.
PTZ_OPTIONS: dict[str, Any] = {
    CONF_PTZ_CAMERAS: [1, 2],
    CONF_PTZ_PRESETS: {"1": {"1": "Gate", "2": "Front door"}},
}

type Query = list[tuple[str, str]]


def ptz(camera: int, pan: int = 0, tilt: int = 0, zoom: int = 0) -> tuple[str, Query]:
    """The ``directctrl.cgi`` request the spec gives for a PTZ command."""
    return (
        "/cgi-bin/directctrl.cgi",
        [
            ("UID", "<uid>"),
            ("CH", str(camera)),
            ("PAN", str(pan)),
            ("TILT", str(tilt)),
            ("ZOOM", str(zoom)),
            ("PC", "AS60"),
        ],
    )


def camctl(camera: int, *params: tuple[str, str]) -> tuple[str, Query]:
    """A ``camctl.cgi`` request: UID, CH, the command's parameters, PC, in that order."""
    return (
        "/cgi-bin/camctl.cgi",
        [("UID", "<uid>"), ("CH", str(camera)), *params, ("PC", "AS60")],
    )


def control_requests(sim: NvrSimulator) -> list[tuple[str, Query]]:
    """The camera-control requests the simulator answered, in order, UID values masked."""
    return [
        (
            record.path,
            [(key, "<uid>" if key == "UID" else value) for key, value in record.query],
        )
        for record in sim.requests
        if record.cgi in CONTROL_CGIS and record.status == 200
    ]


def control_times(sim: NvrSimulator) -> list[float]:
    """Arrival times of the answered camera-control requests."""
    return [
        record.time
        for record in sim.requests
        if record.cgi in CONTROL_CGIS and record.status == 200
    ]


async def wait_for_control_requests(sim: NvrSimulator, count: int) -> None:
    """Wait (at most 5 s) until the simulator has answered ``count`` camera-control requests."""
    async with asyncio.timeout(5):
        while len(control_requests(sim)) < count:  # noqa: ASYNC110 - polls the simulator
            await asyncio.sleep(0.01)


def camera_device_id(hass: HomeAssistant, entry: MockConfigEntry, camera: int) -> str:
    """The device registry id of one camera of the entry."""
    device = dr.async_get(hass).async_get_device_by_identifier(
        camera_identifier(entry, camera), entry.entry_id
    )
    assert device is not None
    return device.id


def camera_entity_id(hass: HomeAssistant, entry: MockConfigEntry, camera: int) -> str:
    """The entity id of the camera platform's entity of ``camera``, as services target it."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "camera", DOMAIN, f"{entry.entry_id}_camera_{camera}_camera"
    )
    assert entity_id is not None
    return entity_id
