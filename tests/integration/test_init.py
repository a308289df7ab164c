"""Set-up, unload, reload, set-up failures, device removal, against the simulator."""

from __future__ import annotations

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import EVENT_HOMEASSISTANT_STOP, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.ipro_nvr.const import DOMAIN
from ipro_sim import NvrSimulator
from tests.conftest import setup_entry

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL

CAMERA_2 = "binary_sensor.wj_nx400_camera_2_connection"
SESSIONS = "sensor.wj_nx400_sessions_in_use"


def logouts(sim: NvrSimulator) -> int:
    return sum(1 for r in sim.requests if r.cgi == "logout.cgi" and r.status == 200)


async def test_setup_unload_and_reload(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    assert hass.states.get(CAMERA_2).state == STATE_ON
    assert hass.states.get(SESSIONS).state == "1"
    capacity = er.async_get(hass).async_get("sensor.wj_nx400_main_1_capacity")
    assert capacity is not None
    assert capacity.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)
    first_poll = [r.cgi for r in nvr_sim.requests if r.status == 200]
    assert first_poll == [
        "dlogin.cgi",
        "as_getinfo.cgi",
        "loglist.cgi",
        "loglist.cgi",
        "recordedtime.cgi",
    ]

    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert logouts(nvr_sim) == 1
    assert hass.states.get(CAMERA_2).state == STATE_ON

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert logouts(nvr_sim) == 2
    assert nvr_sim.sessions.count == 0
    assert hass.states.get(CAMERA_2).state == STATE_UNAVAILABLE


async def test_home_assistant_stop_logs_out(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    hass.bus.async_fire(EVENT_HOMEASSISTANT_STOP)
    await hass.async_block_till_done()
    assert logouts(nvr_sim) == 1
    assert nvr_sim.sessions.count == 0


async def test_setup_auth_failure_starts_reauth(
    hass: HomeAssistant, config_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.reject_credentials = True
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_ERROR
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


async def test_setup_unreachable_retries(
    hass: HomeAssistant, config_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    await nvr_sim.stop()
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY


async def test_setup_first_poll_failure_retries_and_logs_out(
    hass: HomeAssistant, config_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.faults.garbage(path="loglist.cgi")
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    assert nvr_sim.sessions.count == 0


async def test_no_free_session_repair_at_setup(
    hass: HomeAssistant,
    config_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    nvr_sim.faults.no_free_uid = True
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.SETUP_RETRY
    issue_id = f"no_free_session_{config_entry.entry_id}"
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "no_free_session"

    nvr_sim.faults.reset()
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.state is ConfigEntryState.LOADED
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_remove_config_entry_device(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    entry_id = loaded_entry.entry_id

    async def remove(device_id: str) -> bool:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": entry_id,
                "device_id": device_id,
            }
        )
        response = await client.receive_json()
        return bool(response["success"])

    nvr = device_registry.async_get_device_by_identifier((DOMAIN, entry_id), loaded_entry.entry_id)
    camera_2 = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{entry_id}_camera_2"), loaded_entry.entry_id
    )
    stale = device_registry.async_get_or_create(
        config_entry_id=entry_id, identifiers={(DOMAIN, f"{entry_id}_camera_9")}
    )
    assert nvr is not None
    assert camera_2 is not None
    assert not await remove(nvr.id)
    assert not await remove(camera_2.id)
    assert await remove(stale.id)
    assert device_registry.async_get(stale.id) is None

    # While the entry is not loaded, camera devices can go (they come back if registered).
    assert await hass.config_entries.async_unload(entry_id)
    await hass.async_block_till_done()
    assert not await remove(nvr.id)
    assert await remove(camera_2.id)


async def test_remove_entry_forgets_what_was_seen(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, hass_storage: dict[str, object]
) -> None:
    key = f"{DOMAIN}.{loaded_entry.entry_id}"
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert key in hass_storage
    assert await hass.config_entries.async_remove(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert key not in hass_storage
