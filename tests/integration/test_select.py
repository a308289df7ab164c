"""The preset select of a PTZ camera: options from the entry, what selecting sends, its state."""

from __future__ import annotations

from typing import Any

from homeassistant.components.select import (
    ATTR_OPTION,
    ATTR_OPTIONS,
    DOMAIN as SELECT_DOMAIN,
    SERVICE_SELECT_OPTION,
)
from homeassistant.const import ATTR_ENTITY_ID, ATTR_FRIENDLY_NAME, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.ptz import CONF_PTZ_CAMERAS, CONF_PTZ_PRESETS
from ipro_sim import NvrSimulator

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL
from .ptz_common import PTZ_OPTIONS, camctl, camera_entity_id, control_requests, ptz

SELECT = "select.wj_nx400_camera_1_preset"


@pytest.fixture
def entry_options() -> dict[str, Any]:
    return PTZ_OPTIONS


def selects(hass: HomeAssistant, entry: MockConfigEntry) -> set[str]:
    return {
        entity.unique_id
        for entity in er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
        if entity.domain == SELECT_DOMAIN
    }


async def select(hass: HomeAssistant, option: str) -> None:
    await hass.services.async_call(
        SELECT_DOMAIN,
        SERVICE_SELECT_OPTION,
        {ATTR_ENTITY_ID: SELECT, ATTR_OPTION: option},
        blocking=True,
    )


async def control(hass: HomeAssistant, entry: MockConfigEntry, service: str, **data: Any) -> None:
    await hass.services.async_call(
        DOMAIN,
        service,
        {ATTR_ENTITY_ID: camera_entity_id(hass, entry, 1), **data},
        blocking=True,
    )


async def test_one_select_per_ptz_camera_with_named_presets(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Camera 2 is PTZ but has no named presets: no select for it."""
    assert selects(hass, loaded_entry) == {f"{loaded_entry.entry_id}_camera_1_preset"}
    state = hass.states.get(SELECT)
    assert state is not None
    assert state.state == STATE_UNKNOWN
    assert state.attributes[ATTR_OPTIONS] == ["Gate", "Front door"]
    assert state.attributes[ATTR_FRIENDLY_NAME] == "WJ-NX400 camera 1 Preset"


async def test_selecting_goes_to_the_preset(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    await select(hass, "Front door")
    assert control_requests(nvr_sim) == [camctl(1, ("CMD", "PRESET"), ("NO", "2"))]
    assert hass.states.get(SELECT).state == "Front door"
    assert nvr_sim.camera_control[1].current_preset == 2
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_state_follows_other_moves(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    await control(hass, loaded_entry, "goto_preset", preset=1)
    assert hass.states.get(SELECT).state == "Gate"
    await control(hass, loaded_entry, "ptz_move", pan=3)
    assert hass.states.get(SELECT).state == STATE_UNKNOWN
    await control(hass, loaded_entry, "set_preset", preset=2)
    assert hass.states.get(SELECT).state == "Front door"
    await control(hass, loaded_entry, "ptz_center", x=5, y=5)
    assert hass.states.get(SELECT).state == STATE_UNKNOWN
    # A preset without a name: the camera is somewhere the select has no option for.
    await control(hass, loaded_entry, "goto_preset", preset=9)
    assert hass.states.get(SELECT).state == STATE_UNKNOWN
    assert control_requests(nvr_sim) == [
        camctl(1, ("CMD", "PRESET"), ("NO", "1")),
        ptz(1, pan=3),
        camctl(1, ("CMD", "PRESETPRG"), ("NO", "2")),
        camctl(1, ("CMD", "CENTERING"), ("CTRL", "START"), ("X", "5"), ("Y", "5")),
        camctl(1, ("CMD", "PRESET"), ("NO", "9")),
    ]


async def test_unknown_option_is_refused_before_the_nvr(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError):
        await select(hass, "Garage")
    assert control_requests(nvr_sim) == []


async def test_refused_select_raises_a_translated_error(
    hass: HomeAssistant, nvr_sim: NvrSimulator, loaded_entry: MockConfigEntry
) -> None:
    nvr_sim.faults.fail_path("camctl.cgi", 500)
    with pytest.raises(HomeAssistantError) as err:
        await select(hass, "Gate")
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == "protocol_error"
    assert "refused camctl.cgi with HTTP 500" in err.value.translation_placeholders["error"]
    assert hass.states.get(SELECT).state == STATE_UNKNOWN


async def test_select_of_a_camera_no_longer_ptz_is_removed(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        loaded_entry,
        options={CONF_PTZ_CAMERAS: [2], CONF_PTZ_PRESETS: {"2": {"5": "Yard"}}},
    )
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert selects(hass, loaded_entry) == {f"{loaded_entry.entry_id}_camera_2_preset"}
    assert hass.states.get(SELECT) is None
    state = hass.states.get("select.wj_nx400_camera_2_preset")
    assert state is not None
    assert state.attributes[ATTR_OPTIONS] == ["Yard"]
