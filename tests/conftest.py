"""Shared fixtures.

``custom_components.ipro_nvr`` is imported here, before Home Assistant starts, so that
the plugin's own ``testing_config/custom_components`` package does not shadow ours.
Sockets stay blocked by the plugin except for 127.0.0.1, where the simulator listens.

The Home Assistant side (config entry against the simulator, short pacing) is here too,
so the integration tests and the fault matrix set up their entry the same way; each of
those folders lets Home Assistant load the integration and picks its pacing intervals.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator
from typing import Any
from unittest.mock import patch

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SSL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

import custom_components.ipro_nvr  # noqa: F401
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.const import DOMAIN
from ipro_sim import NvrSimulator, SimulatorConfig

ENTRY_ID = "01JIPRONVRTESTENTRY000000"


@pytest.fixture
def enable_integration(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """Configuration of ``nvr_sim``; override this fixture to simulate another NVR."""
    return SimulatorConfig()


@pytest.fixture
async def nvr_sim(
    sim_config: SimulatorConfig, socket_enabled: None
) -> AsyncGenerator[NvrSimulator]:
    """A simulated NVR on 127.0.0.1 (free port), stopped after the test.

    ``socket_enabled`` lets it open its listening socket; clients may still connect
    only to 127.0.0.1.
    """
    simulator = NvrSimulator(sim_config)
    await simulator.start("127.0.0.1", 0)
    yield simulator
    await simulator.stop()


@pytest.fixture
def fast_pacer(pacer_intervals: tuple[float, float]) -> Generator[list[Pacer]]:
    """Give every client the integration makes short pacing; yield the pacers handed out.

    ``custom_components.ipro_nvr.util.new_pacer`` is the single place the integration
    takes its pacer from. ``pacer_intervals`` (command, camera control) comes from the
    test's folder or module.
    """
    pacers: list[Pacer] = []
    command_interval, control_interval = pacer_intervals

    def new_pacer() -> Pacer:
        pacer = Pacer(command_interval=command_interval, control_interval=control_interval)
        pacers.append(pacer)
        return pacer

    with patch("custom_components.ipro_nvr.util.new_pacer", new_pacer):
        yield pacers


def entry_data(sim: NvrSimulator, **overrides: Any) -> dict[str, Any]:
    """Return config entry data that reaches ``sim``."""
    return {
        CONF_HOST: sim.host,
        CONF_PORT: sim.port,
        CONF_SSL: sim.config.ssl,
        CONF_VERIFY_SSL: False,
        CONF_USERNAME: sim.config.username,
        CONF_PASSWORD: sim.config.password,
        **overrides,
    }


@pytest.fixture
def entry_options() -> dict[str, Any]:
    """Options of the test entry; override to change poll intervals."""
    return {}


@pytest.fixture
def config_entry(
    hass: HomeAssistant, nvr_sim: NvrSimulator, entry_options: dict[str, Any]
) -> MockConfigEntry:
    """A config entry (not yet set up) for the simulated NVR."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        entry_id=ENTRY_ID,
        title=nvr_sim.config.model,
        unique_id=f"{nvr_sim.host}:{nvr_sim.port}",
        data=entry_data(nvr_sim),
        options=entry_options,
    )
    entry.add_to_hass(hass)
    return entry


async def setup_entry(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Set the entry up and wait until its first poll and platforms are done."""
    await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
async def loaded_entry(hass: HomeAssistant, config_entry: MockConfigEntry) -> MockConfigEntry:
    """The config entry, set up against the simulator."""
    await setup_entry(hass, config_entry)
    assert config_entry.state is ConfigEntryState.LOADED
    return config_entry
