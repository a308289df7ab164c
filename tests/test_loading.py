"""Home Assistant finds the integration in custom_components/ and loads it end to end."""

from pathlib import Path
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.loader import async_get_integration
import pytest

import custom_components.ipro_nvr
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.const import DOMAIN
from ipro_sim import NvrSimulator


@pytest.mark.usefixtures("enable_integration")
async def test_integration_is_found(hass: HomeAssistant) -> None:
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.name == "i-PRO NVR"
    assert integration.config_flow is True
    assert integration.file_path == Path(custom_components.ipro_nvr.__file__).parent


@pytest.mark.usefixtures("enable_integration")
async def test_entry_from_the_ui_loads_and_unloads(
    hass: HomeAssistant, nvr_sim: NvrSimulator
) -> None:
    with patch("custom_components.ipro_nvr.util.new_pacer", lambda: Pacer(0.05, 0.01)):
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
        assert result["type"] is FlowResultType.FORM
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"],
            {
                "host": nvr_sim.host,
                "port": nvr_sim.port,
                "ssl": False,
                "verify_ssl": False,
                "username": "ADMIN",
                "password": "12345",
            },
        )
        assert result["type"] is FlowResultType.CREATE_ENTRY
        entry = result["result"]
        await hass.async_block_till_done()
        assert entry.state is ConfigEntryState.LOADED
        assert hass.states.get("binary_sensor.wj_nx400_camera_1_connection") is not None
        assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
    assert nvr_sim.sessions.count == 0
