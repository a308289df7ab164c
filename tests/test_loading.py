"""Home Assistant finds and loads the integration from custom_components/."""

from pathlib import Path

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.loader import async_get_integration
import pytest

import custom_components.ipro_nvr
from custom_components.ipro_nvr.const import DOMAIN


@pytest.mark.usefixtures("enable_integration")
async def test_integration_is_found(hass: HomeAssistant) -> None:
    integration = await async_get_integration(hass, DOMAIN)
    assert integration.name == "i-PRO NVR"
    assert integration.config_flow is True
    assert integration.file_path == Path(custom_components.ipro_nvr.__file__).parent


@pytest.mark.usefixtures("enable_integration")
async def test_entry_loads_and_unloads(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": "user"})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"host": "127.0.0.1"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    assert await hass.config_entries.async_unload(entry.entry_id)
    assert entry.state is ConfigEntryState.NOT_LOADED
