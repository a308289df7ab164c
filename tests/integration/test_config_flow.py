"""Config flow branches against the simulator: user, reauth, reconfigure and options."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SSL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import (
    CONF_EVENT_LOG_INTERVAL,
    CONF_HDD_INTERVAL,
    CONF_STATUS_INTERVAL,
    CONF_VIDEO_CODEC,
    DOMAIN,
)
from ipro_sim import NvrSimulator, SimulatorConfig
from tests.conftest import entry_data

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL


def user_input(sim: NvrSimulator, **overrides: Any) -> dict[str, Any]:
    """Return what a user types into the form to reach ``sim``."""
    return entry_data(sim, **overrides)


@pytest.fixture
async def second_sim(socket_enabled: None) -> AsyncGenerator[NvrSimulator]:
    """Another simulated NVR, on another port, for moving an entry."""
    simulator = NvrSimulator(SimulatorConfig(seed=2))
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await simulator.stop()


async def test_user_creates_entry_after_login(hass: HomeAssistant, nvr_sim: NvrSimulator) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(nvr_sim, **{CONF_HOST: f" {nvr_sim.host} "})
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "WJ-NX400"
    assert result["data"] == entry_data(nvr_sim)
    entry = result["result"]
    assert entry.unique_id == f"127.0.0.1:{nvr_sim.port}"
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED
    # The check logged in and out again before the entry logged in for good.
    cgis = [r.cgi for r in nvr_sim.requests if r.status == 200]
    assert cgis[:2] == ["dlogin.cgi", "logout.cgi"]
    # The check's client and the entry's share the NVR's one pacer.
    nvr_sim.assert_paced(COMMAND_INTERVAL, CONTROL_INTERVAL)


async def test_user_port_defaults_to_80_or_443_in_the_unique_id(
    hass: HomeAssistant, nvr_sim: NvrSimulator
) -> None:
    """Without a port the flow reaches port 80, which nothing listens on here."""
    for ssl, port in ((False, 80), (True, 443)):
        MockConfigEntry(domain=DOMAIN, unique_id=f"127.0.0.1:{port}").add_to_hass(hass)
        result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        data = user_input(nvr_sim, **{CONF_SSL: ssl})
        del data[CONF_PORT]
        result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "already_configured"


@pytest.mark.parametrize(
    ("break_it", "error"),
    [
        (lambda sim: setattr(sim.faults, "reject_credentials", True), "invalid_auth"),
        (lambda sim: setattr(sim.faults, "no_free_uid", True), "no_free_session"),
        (lambda sim: sim.faults.garbage(path="dlogin.cgi"), "unknown"),
    ],
    ids=["invalid_auth", "no_free_session", "unknown"],
)
async def test_user_errors_then_recovery(
    hass: HomeAssistant, nvr_sim: NvrSimulator, break_it: Any, error: str
) -> None:
    break_it(nvr_sim)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(nvr_sim))
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    nvr_sim.faults.reset()
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(nvr_sim))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()


async def test_user_cannot_connect(hass: HomeAssistant, second_sim: NvrSimulator) -> None:
    await second_sim.stop()
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(second_sim)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_already_configured(
    hass: HomeAssistant, config_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], user_input(nvr_sim))
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"
    assert not nvr_sim.requests


async def test_reauth_when_the_password_changes(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.auth.password = "changed"
    result = await loaded_entry.start_reauth_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "ADMIN", CONF_PASSWORD: "wrong"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_USERNAME: "ADMIN", CONF_PASSWORD: "changed"}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert loaded_entry.data[CONF_PASSWORD] == "changed"
    assert loaded_entry.state is ConfigEntryState.LOADED


async def test_reconfigure_moves_the_entry_and_keeps_entities(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    second_sim: NvrSimulator,
    entity_registry: er.EntityRegistry,
    device_registry: dr.DeviceRegistry,
) -> None:
    entities = {
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    }
    devices = {
        d.id for d in dr.async_entries_for_config_entry(device_registry, loaded_entry.entry_id)
    }
    assert entities
    assert devices

    result = await loaded_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        {
            CONF_HOST: second_sim.host,
            CONF_PORT: second_sim.port,
            CONF_SSL: False,
            CONF_VERIFY_SSL: False,
        },
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.unique_id == f"127.0.0.1:{second_sim.port}"
    assert loaded_entry.data[CONF_PORT] == second_sim.port
    assert loaded_entry.data[CONF_USERNAME] == "ADMIN"
    assert any(r.cgi == "loglist.cgi" for r in second_sim.requests)
    assert {
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    } == entities
    assert {
        d.id for d in dr.async_entries_for_config_entry(device_registry, loaded_entry.entry_id)
    } == devices


async def test_reconfigure_errors(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    second_sim: NvrSimulator,
) -> None:
    other = MockConfigEntry(domain=DOMAIN, unique_id=f"127.0.0.1:{second_sim.port}")
    other.add_to_hass(hass)
    address = {CONF_HOST: "127.0.0.1", CONF_SSL: False, CONF_VERIFY_SSL: False}

    # Same address as before: allowed, it does not collide with itself.
    result = await loaded_entry.start_reconfigure_flow(hass)
    nvr_sim.faults.reject_credentials = True
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**address, CONF_PORT: nvr_sim.port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    nvr_sim.faults.reset()

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**address, CONF_PORT: second_sim.port}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"

    await second_sim.stop()
    other_port = second_sim.port
    await hass.config_entries.async_remove(other.entry_id)
    result = await loaded_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**address, CONF_PORT: other_port}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert loaded_entry.data[CONF_PORT] == nvr_sim.port


async def test_options_change_poll_intervals_and_reload(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    coordinator = loaded_entry.runtime_data.coordinator
    assert coordinator.update_interval is not None
    assert coordinator.update_interval.total_seconds() == 5

    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_EVENT_LOG_INTERVAL: 10,
            CONF_STATUS_INTERVAL: 120,
            CONF_HDD_INTERVAL: 3600,
            CONF_VIDEO_CODEC: "H265",
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert loaded_entry.options == {
        CONF_EVENT_LOG_INTERVAL: 10,
        CONF_STATUS_INTERVAL: 120,
        CONF_HDD_INTERVAL: 3600,
        CONF_VIDEO_CODEC: "H265",
    }
    assert loaded_entry.state is ConfigEntryState.LOADED
    new_coordinator = loaded_entry.runtime_data.coordinator
    assert new_coordinator is not coordinator
    assert new_coordinator.update_interval is not None
    assert new_coordinator.update_interval.total_seconds() == 10
