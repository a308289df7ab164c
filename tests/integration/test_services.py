"""Camera-control services against the simulator: exact requests, pacing, repeats, errors."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import ATTR_DEVICE_ID, ATTR_ENTITY_ID
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
)
from homeassistant.helpers.service import async_get_all_descriptions
from homeassistant.helpers.translation import async_get_translations
import probatio
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr import ptz as ptz_module
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.services import SCHEMAS
from custom_components.ipro_nvr.targets import camera_from_unique_id
from ipro_sim import NvrSimulator

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL
from .ptz_common import (
    camctl,
    camera_device_id,
    camera_entity_id,
    control_requests,
    control_times,
    ptz,
    wait_for_control_requests,
)

REAL_REPEAT = ptz_module.PTZ_REPEAT_INTERVAL
REPEAT = 0.2
TOLERANCE = 0.01


@pytest.fixture(autouse=True)
def short_repeat() -> Any:
    """Repeat PTZ moves every 0.2 s instead of 1.5 s."""
    with patch("custom_components.ipro_nvr.ptz.PTZ_REPEAT_INTERVAL", REPEAT):
        yield


async def call(hass: HomeAssistant, service: str, data: dict[str, Any]) -> None:
    await hass.services.async_call(DOMAIN, service, data, blocking=True)


@pytest.fixture
def camera_1(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> str:
    """The camera platform's entity of camera 1: what the services are aimed at."""
    entity_id = camera_entity_id(hass, loaded_entry, 1)
    assert entity_id == "camera.wj_nx400_camera_1"
    return entity_id


async def test_services_registered_once_without_entries(hass: HomeAssistant) -> None:
    """async_setup registers every service, before and independently of any entry."""
    from homeassistant.setup import async_setup_component  # noqa: PLC0415

    assert await async_setup_component(hass, DOMAIN, {})
    assert set(hass.services.async_services_for_domain(DOMAIN)) >= set(SCHEMAS)


async def test_every_service_and_field_is_described(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """services.yaml loads and aims at this integration's cameras; every field is translated."""
    descriptions = (await async_get_all_descriptions(hass))[DOMAIN]
    translations = await async_get_translations(hass, "en", "services", [DOMAIN])
    fields = {
        "ptz_move": {"pan", "tilt", "zoom", "duration"},
        "ptz_center": {"x", "y"},
        "focus": {"action"},
        "iris": {"action"},
        "set_preset": {"preset"},
        "goto_preset": {"preset"},
        "aux": {"output", "action"},
    }
    for service, names in fields.items():
        description = descriptions[service]
        assert set(description["fields"]) == names
        assert description["target"] == {"entity": [{"integration": DOMAIN, "domain": ["camera"]}]}
        for key in ("name", "description"):
            assert translations[f"component.{DOMAIN}.services.{service}.{key}"]
            for name in names:
                assert translations[f"component.{DOMAIN}.services.{service}.fields.{name}.{key}"]


@pytest.mark.parametrize(
    ("service", "data", "expected"),
    [
        ("ptz_move", {"pan": 256, "tilt": -256, "zoom": 4}, [ptz(1, 256, -256, 4)]),
        ("ptz_move", {"pan": -12}, [ptz(1, pan=-12)]),
        ("ptz_move", {}, [ptz(1)]),
        (
            "ptz_center",
            {"x": 160, "y": 120},
            [camctl(1, ("CMD", "CENTERING"), ("CTRL", "START"), ("X", "160"), ("Y", "120"))],
        ),
        (
            "focus",
            {"action": "far"},
            [camctl(1, ("CMD", "FOCUS"), ("CTRL", "FAR"), ("CTRL", "START"))],
        ),
        (
            "focus",
            {"action": "near"},
            [camctl(1, ("CMD", "FOCUS"), ("CTRL", "NEAR"), ("CTRL", "START"))],
        ),
        (
            "focus",
            {"action": "AUTO"},
            [camctl(1, ("CMD", "FOCUS"), ("CTRL", "AUTO"), ("CTRL", "START"))],
        ),
        (
            "iris",
            {"action": "open"},
            [camctl(1, ("CMD", "IRIS"), ("CTRL", "OPEN"), ("CTRL", "START"))],
        ),
        (
            "iris",
            {"action": "close"},
            [camctl(1, ("CMD", "IRIS"), ("CTRL", "CLOSE"), ("CTRL", "START"))],
        ),
        (
            "iris",
            {"action": "reset"},
            [camctl(1, ("CMD", "IRIS"), ("CTRL", "RESET"), ("CTRL", "START"))],
        ),
        ("set_preset", {"preset": 256}, [camctl(1, ("CMD", "PRESETPRG"), ("NO", "256"))]),
        ("goto_preset", {"preset": 1}, [camctl(1, ("CMD", "PRESET"), ("NO", "1"))]),
        ("aux", {"output": 1, "action": "open"}, [camctl(1, ("CMD", "AUX1"), ("CTRL", "OPEN"))]),
        ("aux", {"output": 8, "action": "close"}, [camctl(1, ("CMD", "AUX8"), ("CTRL", "CLOSE"))]),
    ],
)
async def test_service_sends_the_spec_request(
    hass: HomeAssistant,
    *,
    nvr_sim: NvrSimulator,
    camera_1: str,
    service: str,
    data: dict[str, Any],
    expected: list[Any],
) -> None:
    await call(hass, service, {ATTR_ENTITY_ID: camera_1, **data})
    assert control_requests(nvr_sim) == expected
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_simulated_camera_follows_the_commands(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    await call(hass, "set_preset", {ATTR_ENTITY_ID: camera_1, "preset": 7})
    await call(hass, "goto_preset", {ATTR_ENTITY_ID: camera_1, "preset": 7})
    await call(hass, "aux", {ATTR_ENTITY_ID: camera_1, "output": 3, "action": "open"})
    await call(hass, "ptz_center", {ATTR_ENTITY_ID: camera_1, "x": 10, "y": 20})
    state = nvr_sim.camera_control[1]
    assert state.presets == {7}
    assert state.current_preset == 7
    assert state.aux[3] is True
    assert state.centering == (10, 20)


async def test_duration_repeats_the_move_then_stops(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    """0.5 s at a 0.2 s repeat: moves at 0, 0.2 and 0.4 s, the stop at 0.5 s."""
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": 30, "duration": 0.5})
    # The call returns after the first command; the rest runs in the background.
    assert control_requests(nvr_sim) == [ptz(1, pan=30)]
    await hass.async_block_till_done(wait_background_tasks=True)

    assert control_requests(nvr_sim) == [ptz(1, pan=30)] * 3 + [ptz(1)]
    first, *others = control_times(nvr_sim)
    offsets = [time - first for time in others]
    assert offsets[0] >= REPEAT - TOLERANCE
    assert offsets[1] >= 2 * REPEAT - TOLERANCE
    assert offsets[2] >= 0.5 - TOLERANCE
    assert offsets[2] < 0.5 + 0.4
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)
    assert nvr_sim.camera_control[1].moves == 3


async def test_duration_at_the_real_repeat_interval(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    """The real schedule: a command moves a camera about 2 s, so it is repeated sooner."""
    assert REAL_REPEAT < 2.0
    with patch("custom_components.ipro_nvr.ptz.PTZ_REPEAT_INTERVAL", REAL_REPEAT):
        await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "tilt": 16, "duration": 2})
        await hass.async_block_till_done(wait_background_tasks=True)
    assert control_requests(nvr_sim) == [ptz(1, tilt=16), ptz(1, tilt=16), ptz(1)]
    first, repeat, stop = control_times(nvr_sim)
    assert repeat - first >= REAL_REPEAT - TOLERANCE
    assert stop - first >= 2 - TOLERANCE


async def test_a_new_call_cancels_the_repeat_and_sends_its_stop(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "zoom": 2, "duration": 10})
    await wait_for_control_requests(nvr_sim, 2)
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "tilt": -40})
    await asyncio.sleep(3 * REPEAT)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert control_requests(nvr_sim) == [
        ptz(1, zoom=2),
        ptz(1, zoom=2),
        ptz(1),
        ptz(1, tilt=-40),
    ]
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_a_stop_ends_the_repeat_with_one_stop(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": -5, "duration": 10})
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "duration": 10})
    await asyncio.sleep(2 * REPEAT)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert control_requests(nvr_sim) == [ptz(1, pan=-5), ptz(1)]


async def test_preset_and_centering_cancel_the_repeat(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": 1, "duration": 10})
    await call(hass, "goto_preset", {ATTR_ENTITY_ID: camera_1, "preset": 3})
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "tilt": 1, "duration": 10})
    await call(hass, "ptz_center", {ATTR_ENTITY_ID: camera_1, "x": 1, "y": 2})
    # Focus is not a move: nothing to cancel, nothing stopped.
    await call(hass, "focus", {ATTR_ENTITY_ID: camera_1, "action": "auto"})
    await asyncio.sleep(2 * REPEAT)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert control_requests(nvr_sim) == [
        ptz(1, pan=1),
        ptz(1),
        camctl(1, ("CMD", "PRESET"), ("NO", "3")),
        ptz(1, tilt=1),
        ptz(1),
        camctl(1, ("CMD", "CENTERING"), ("CTRL", "START"), ("X", "1"), ("Y", "2")),
        camctl(1, ("CMD", "FOCUS"), ("CTRL", "AUTO"), ("CTRL", "START")),
    ]


async def test_repeats_of_two_cameras_run_side_by_side(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    camera_1 = camera_entity_id(hass, loaded_entry, 1)
    camera_2 = camera_entity_id(hass, loaded_entry, 2)
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": 9, "duration": 0.3})
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_2, "tilt": 9, "duration": 0.3})
    await hass.async_block_till_done(wait_background_tasks=True)

    requests = control_requests(nvr_sim)
    assert [r for r in requests if ("CH", "1") in r[1]] == [ptz(1, pan=9)] * 2 + [ptz(1)]
    assert [r for r in requests if ("CH", "2") in r[1]] == [ptz(2, tilt=9)] * 2 + [ptz(2)]
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_unload_cancels_the_repeat(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry, camera_1: str
) -> None:
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": 2, "duration": 10})
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await asyncio.sleep(2 * REPEAT)
    assert control_requests(nvr_sim) == [ptz(1, pan=2)]

    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "focus", {ATTR_ENTITY_ID: camera_1, "action": "far"})
    assert err.value.translation_key == "not_loaded"


async def test_a_failing_repeat_is_logged_and_ends(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    camera_1: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": 2, "duration": 10})
    nvr_sim.faults.fail_path("directctrl.cgi", 500)
    with caplog.at_level(logging.WARNING):
        await hass.async_block_till_done(wait_background_tasks=True)
    assert "Moving camera 1 stopped early" in caplog.text
    assert control_requests(nvr_sim) == [ptz(1, pan=2)]


async def test_real_control_lane_spacing_beside_slow_commands(
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    camera_1: str,
    fast_pacer: list[Pacer],
) -> None:
    """With the NVR's own pacing, control commands go 0.2 s apart and skip the 3 s lane."""
    for pacer in fast_pacer:
        pacer.command_interval = 3.0
        pacer.control_interval = 0.2
    nvr_sim.requests.clear()
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(
        call(hass, "focus", {ATTR_ENTITY_ID: camera_1, "action": "near"}),
        call(hass, "iris", {ATTR_ENTITY_ID: camera_1, "action": "open"}),
        call(hass, "aux", {ATTR_ENTITY_ID: camera_1, "output": 2, "action": "close"}),
        call(hass, "goto_preset", {ATTR_ENTITY_ID: camera_1, "preset": 4}),
    )
    elapsed = loop.time() - started

    times = control_times(nvr_sim)
    assert len(times) == 4
    assert all(b - a >= 0.2 - TOLERANCE for a, b in itertools.pairwise(times))
    assert elapsed < 3.0
    nvr_sim.assert_paced(3.0, 0.2)


async def test_device_target_and_several_cameras(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    await call(
        hass,
        "aux",
        {
            ATTR_DEVICE_ID: [
                camera_device_id(hass, loaded_entry, 3),
                camera_device_id(hass, loaded_entry, 2),
            ],
            "output": 5,
            "action": "open",
        },
    )
    await call(
        hass,
        "iris",
        {
            ATTR_ENTITY_ID: [
                camera_entity_id(hass, loaded_entry, 2),
                camera_entity_id(hass, loaded_entry, 1),
            ],
            # The camera's device as well: camera 1 still gets one command.
            ATTR_DEVICE_ID: camera_device_id(hass, loaded_entry, 1),
            "action": "reset",
        },
    )
    assert control_requests(nvr_sim) == [
        camctl(2, ("CMD", "AUX5"), ("CTRL", "OPEN")),
        camctl(3, ("CMD", "AUX5"), ("CTRL", "OPEN")),
        camctl(1, ("CMD", "IRIS"), ("CTRL", "RESET"), ("CTRL", "START")),
        camctl(2, ("CMD", "IRIS"), ("CTRL", "RESET"), ("CTRL", "START")),
    ]


async def test_other_entities_of_a_camera_device_resolve_to_it(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Any entity of a camera's device names that camera (the connection sensor here)."""
    entity_id = er.async_get(hass).async_get_entity_id(
        "binary_sensor", DOMAIN, f"{loaded_entry.entry_id}_camera_4_connection"
    )
    assert entity_id is not None
    await call(hass, "goto_preset", {ATTR_ENTITY_ID: entity_id, "preset": 2})
    assert control_requests(nvr_sim) == [camctl(4, ("CMD", "PRESET"), ("NO", "2"))]


async def test_targets_that_are_not_cameras(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    sensor = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"{loaded_entry.entry_id}_sessions_in_use"
    )
    assert sensor is not None
    for entity_id in (sensor, "camera.somewhere_else"):
        with pytest.raises(ServiceValidationError) as err:
            await call(hass, "focus", {ATTR_ENTITY_ID: entity_id, "action": "far"})
        assert err.value.translation_key == "not_a_camera"
        assert err.value.translation_placeholders == {"target": entity_id}

    # A device named explicitly must be a camera too; the NVR's own device is not one.
    nvr_device = loaded_entry.runtime_data.nvr_device_id
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "focus", {ATTR_DEVICE_ID: nvr_device, "action": "far"})
    assert err.value.translation_key == "not_a_camera"
    assert err.value.translation_placeholders == {"target": nvr_device}
    assert control_requests(nvr_sim) == []


async def test_devices_named_must_be_cameras(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """A device of another integration, or one that no longer exists, is refused by name."""
    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    other = dr.async_get(hass).async_get_or_create(
        config_entry_id=other_entry.entry_id, identifiers={("other", "1")}
    )
    for device_id in (other.id, "gone"):
        with pytest.raises(ServiceValidationError) as err:
            await call(
                hass,
                "focus",
                {
                    ATTR_DEVICE_ID: [device_id, camera_device_id(hass, loaded_entry, 2)],
                    "action": "far",
                },
            )
        assert err.value.translation_key == "not_a_camera"
        assert err.value.translation_placeholders == {"target": device_id}
    assert control_requests(nvr_sim) == []


async def test_devices_an_area_reaches_are_filtered(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    """Through an area, the NVR's device and another integration's are skipped quietly."""
    area = ar.async_get(hass).async_create("Yard")
    other_entry = MockConfigEntry(domain="other")
    other_entry.add_to_hass(hass)
    device_registry = dr.async_get(hass)
    other = device_registry.async_get_or_create(
        config_entry_id=other_entry.entry_id, identifiers={("other", "1")}
    )
    for device_id in (
        other.id,
        loaded_entry.runtime_data.nvr_device_id,
        camera_device_id(hass, loaded_entry, 2),
    ):
        device_registry.async_update_device(device_id, area_id=area.id)

    await call(hass, "focus", {"area_id": area.id, "action": "far"})
    assert control_requests(nvr_sim) == [
        camctl(2, ("CMD", "FOCUS"), ("CTRL", "FAR"), ("CTRL", "START"))
    ]


async def test_not_loaded_device_target(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    device_id = camera_device_id(hass, loaded_entry, 2)
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    with pytest.raises(ServiceValidationError) as err:
        await call(hass, "aux", {ATTR_DEVICE_ID: device_id, "output": 1, "action": "open"})
    assert err.value.translation_key == "not_loaded"


async def test_nvr_refusal_raises_a_translated_error(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    nvr_sim.faults.fail_path("camctl.cgi", 500)
    with pytest.raises(HomeAssistantError) as err:
        await call(hass, "goto_preset", {ATTR_ENTITY_ID: camera_1, "preset": 1})
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "protocol_error"
    assert "refused camctl.cgi with HTTP 500" in err.value.translation_placeholders["error"]


@pytest.mark.parametrize(
    ("service", "data", "message"),
    [
        ("ptz_move", {"pan": 257}, "pan must be between -256 and 256"),
        ("ptz_move", {"tilt": -257}, "tilt must be between -256 and 256"),
        ("ptz_move", {"zoom": 5}, "zoom must be between -4 and 4"),
        ("ptz_move", {"zoom": -5}, "zoom must be between -4 and 4"),
        ("ptz_move", {"pan": 1.5}, "pan must be a whole number"),
        ("ptz_move", {"pan": "fast"}, "pan must be a whole number"),
        ("ptz_move", {"pan": True}, "pan must be a whole number"),
        ("ptz_move", {"duration": 0}, "duration must be more than 0 and at most 300 seconds"),
        ("ptz_move", {"duration": 301}, "duration must be more than 0 and at most 300 seconds"),
        ("ptz_move", {"duration": "long"}, "duration must be a number of seconds"),
        ("ptz_center", {"x": -1, "y": 0}, "x must be between 0 and 65535"),
        ("ptz_center", {"x": 0}, "required key not provided"),
        ("focus", {"action": "sideways"}, "action must be one of far, near, auto"),
        ("iris", {"action": "far"}, "action must be one of open, close, reset"),
        ("set_preset", {"preset": 0}, "preset must be between 1 and 256"),
        ("goto_preset", {"preset": 257}, "preset must be between 1 and 256"),
        ("aux", {"output": 9, "action": "open"}, "output must be between 1 and 8"),
        ("aux", {"output": 0, "action": "open"}, "output must be between 1 and 8"),
        ("aux", {"output": 1, "action": "reset"}, "action must be one of open, close"),
        ("ptz_move", {"speed": 3}, "not a valid option at 'speed'"),
    ],
)
async def test_schema_rejects_out_of_range_values(
    hass: HomeAssistant,
    *,
    nvr_sim: NvrSimulator,
    camera_1: str,
    service: str,
    data: dict[str, Any],
    message: str,
) -> None:
    with pytest.raises(probatio.Invalid, match=message):
        await call(hass, service, {ATTR_ENTITY_ID: camera_1, **data})
    assert control_requests(nvr_sim) == []


async def test_schema_takes_whole_numbers_in_other_forms(
    hass: HomeAssistant, nvr_sim: NvrSimulator, camera_1: str
) -> None:
    await call(hass, "ptz_move", {ATTR_ENTITY_ID: camera_1, "pan": "-7", "tilt": 8.0})
    assert control_requests(nvr_sim) == [ptz(1, pan=-7, tilt=8)]


async def test_a_target_is_required(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    with pytest.raises(probatio.Invalid):
        await call(hass, "focus", {"action": "far"})


def test_camera_from_unique_id() -> None:
    assert camera_from_unique_id("abc", "abc_camera_12_live") == 12
    # A camera device's identifier, never an entity's unique id.
    assert camera_from_unique_id("abc", "abc_camera_3") is None
    assert camera_from_unique_id("abc", "abc_camera_x_live") is None
    assert camera_from_unique_id("abc", "abd_camera_1_live") is None
    assert camera_from_unique_id("abc", "abc_sessions_in_use") is None
