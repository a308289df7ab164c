"""PTZ buttons built from the options: which exist, their names, what a press sends."""

from __future__ import annotations

from typing import Any

from homeassistant.components.button import DOMAIN as BUTTON_DOMAIN, SERVICE_PRESS
from homeassistant.const import (
    ATTR_ENTITY_ID,
    ATTR_FRIENDLY_NAME,
    Platform,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.ptz import CONF_PTZ_CAMERAS, CONF_PTZ_PRESETS
from ipro_sim import NvrSimulator

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL
from .ptz_common import PTZ_OPTIONS, camctl, camera_entity_id, control_requests, ptz

DIRECTIONS = (
    "ptz_left",
    "ptz_right",
    "ptz_up",
    "ptz_down",
    "ptz_zoom_in",
    "ptz_zoom_out",
    "ptz_stop",
)


@pytest.fixture
def entry_options() -> dict[str, Any]:
    return PTZ_OPTIONS


def button_keys(hass: HomeAssistant, entry: MockConfigEntry) -> dict[int, set[str]]:
    """The keys of this integration's buttons in the registry, by camera."""
    keys: dict[int, set[str]] = {}
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id):
        if entity.domain == Platform.BUTTON:
            camera, key = entity.unique_id.removeprefix(f"{entry.entry_id}_camera_").split("_", 1)
            keys.setdefault(int(camera), set()).add(key)
    return keys


def button(hass: HomeAssistant, entry: MockConfigEntry, camera: int, key: str) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        BUTTON_DOMAIN, DOMAIN, f"{entry.entry_id}_camera_{camera}_{key}"
    )
    assert entity_id is not None
    return entity_id


async def press(hass: HomeAssistant, entity_id: str) -> None:
    await hass.services.async_call(
        BUTTON_DOMAIN, SERVICE_PRESS, {ATTR_ENTITY_ID: entity_id}, blocking=True
    )


async def test_buttons_follow_the_options(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    assert button_keys(hass, loaded_entry) == {
        1: {*DIRECTIONS, "preset_1", "preset_2"},
        2: set(DIRECTIONS),
    }
    names = {
        key: hass.states.get(button(hass, loaded_entry, 1, key)).attributes[ATTR_FRIENDLY_NAME]
        for key in (*DIRECTIONS, "preset_1", "preset_2")
    }
    assert names == {
        "ptz_left": "WJ-NX400 camera 1 Pan left",
        "ptz_right": "WJ-NX400 camera 1 Pan right",
        "ptz_up": "WJ-NX400 camera 1 Tilt up",
        "ptz_down": "WJ-NX400 camera 1 Tilt down",
        "ptz_zoom_in": "WJ-NX400 camera 1 Zoom in",
        "ptz_zoom_out": "WJ-NX400 camera 1 Zoom out",
        "ptz_stop": "WJ-NX400 camera 1 Stop moving",
        "preset_1": "WJ-NX400 camera 1 Go to Gate",
        "preset_2": "WJ-NX400 camera 1 Go to Front door",
    }
    assert button(hass, loaded_entry, 1, "preset_1") == "button.wj_nx400_camera_1_go_to_gate"


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("ptz_left", ptz(2, pan=-128)),
        ("ptz_right", ptz(2, pan=128)),
        ("ptz_up", ptz(2, tilt=-128)),
        ("ptz_down", ptz(2, tilt=128)),
        ("ptz_zoom_in", ptz(2, zoom=2)),
        ("ptz_zoom_out", ptz(2, zoom=-2)),
        ("ptz_stop", ptz(2)),
    ],
)
async def test_direction_buttons_send_one_ptz_command(
    hass: HomeAssistant,
    *,
    nvr_sim: NvrSimulator,
    loaded_entry: MockConfigEntry,
    key: str,
    expected: Any,
) -> None:
    await press(hass, button(hass, loaded_entry, 2, key))
    assert control_requests(nvr_sim) == [expected]
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_preset_buttons_go_to_their_preset(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    await press(hass, button(hass, loaded_entry, 1, "preset_2"))
    await press(hass, button(hass, loaded_entry, 1, "preset_1"))
    assert control_requests(nvr_sim) == [
        camctl(1, ("CMD", "PRESET"), ("NO", "2")),
        camctl(1, ("CMD", "PRESET"), ("NO", "1")),
    ]
    assert nvr_sim.camera_control[1].current_preset == 1
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_stop_button_ends_a_repeating_move(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    await hass.services.async_call(
        DOMAIN,
        "ptz_move",
        {ATTR_ENTITY_ID: camera_entity_id(hass, loaded_entry, 1), "pan": 50, "duration": 60},
        blocking=True,
    )
    await press(hass, button(hass, loaded_entry, 1, "ptz_stop"))
    await hass.async_block_till_done(wait_background_tasks=True)
    assert control_requests(nvr_sim) == [ptz(1, pan=50), ptz(1)]


async def test_refused_press_raises_a_translated_error(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    nvr_sim.faults.fail_path("directctrl.cgi", 500)
    with pytest.raises(HomeAssistantError) as err:
        await press(hass, button(hass, loaded_entry, 1, "ptz_left"))
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "protocol_error"
    assert "refused directctrl.cgi with HTTP 500" in err.value.translation_placeholders["error"]


async def test_buttons_the_options_drop_are_removed(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    registry = er.async_get(hass)
    gone = [
        button(hass, loaded_entry, 1, "preset_2"),
        *(button(hass, loaded_entry, 2, key) for key in DIRECTIONS),
    ]
    kept = button(hass, loaded_entry, 1, "preset_1")
    connection = registry.async_get_entity_id(
        "binary_sensor", DOMAIN, f"{loaded_entry.entry_id}_camera_2_connection"
    )

    hass.config_entries.async_update_entry(
        loaded_entry,
        options={CONF_PTZ_CAMERAS: [1], CONF_PTZ_PRESETS: {"1": {"1": "Gate"}}},
    )
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert button_keys(hass, loaded_entry) == {1: {*DIRECTIONS, "preset_1"}}
    assert all(registry.async_get(entity_id) is None for entity_id in gone)
    assert registry.async_get(kept) is not None
    assert connection is not None
    assert registry.async_get(connection) is not None


async def test_ptz_camera_not_on_the_nvr_keeps_its_registry_entries(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Camera 9 is PTZ in the options but not registered: no entities, nothing removed."""
    registry = er.async_get(hass)
    stand_in = registry.async_get_or_create(
        BUTTON_DOMAIN,
        DOMAIN,
        f"{loaded_entry.entry_id}_camera_9_ptz_left",
        config_entry=loaded_entry,
    )
    hass.config_entries.async_update_entry(
        loaded_entry, options={**PTZ_OPTIONS, CONF_PTZ_CAMERAS: [1, 2, 9]}
    )
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert registry.async_get(stand_in.entity_id) is not None
    # Only the registry entry: no live entity for a camera the NVR does not have.
    assert hass.states.get(stand_in.entity_id) is None


async def test_no_ptz_cameras_no_buttons(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(config_entry, options={})
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert button_keys(hass, config_entry) == {}
