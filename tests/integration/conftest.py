"""Fixtures for the integration tests: a config entry pointing at the running simulator.

Every request goes through the real client to the real simulator over loopback. Only
the pacing is shortened: ``custom_components.ipro_nvr.util.new_pacer`` is the single
place the integration takes its pacer from, and ``fast_pacer`` replaces it.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from typing import Any
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
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
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.const import DOMAIN
from ipro_sim import NvrSimulator, SimulatorConfig

COMMAND_INTERVAL = 0.05
CONTROL_INTERVAL = 0.01
ENTRY_ID = "01JIPRONVRTESTENTRY000000"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A seeded simulator so its start-up log entries are the same on every run."""
    return SimulatorConfig(seed=1)


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """Command and camera-control spacing for the test's clients.

    Tests that freeze time override this with zeros: a frozen clock never ends a sleep.
    """
    return (COMMAND_INTERVAL, CONTROL_INTERVAL)


@pytest.fixture(autouse=True)
def fast_pacer(pacer_intervals: tuple[float, float]) -> Generator[list[Pacer]]:
    """Give every client short pacing intervals; yield the pacers handed out."""
    pacers: list[Pacer] = []
    command_interval, control_interval = pacer_intervals

    def new_pacer() -> Pacer:
        pacer = Pacer(command_interval=command_interval, control_interval=control_interval)
        pacers.append(pacer)
        return pacer

    with patch("custom_components.ipro_nvr.util.new_pacer", new_pacer):
        yield pacers


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots that know Home Assistant's types (states, registry entries, flows).

    Both syrupy and the Home Assistant plugin define ``snapshot``; this makes sure the
    Home Assistant extension (ids masked, registry entries as dicts) is the one used.
    """
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create every entity enabled, also those disabled by default."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        new_callable=PropertyMock,
        return_value=True,
    ):
        yield


@pytest.fixture(autouse=True)
def _enable(enable_integration: None) -> None:
    """Let Home Assistant load the integration in every test of this folder."""


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


async def poll(hass: HomeAssistant, freezer: FrozenDateTimeFactory, seconds: float = 5) -> None:
    """Let ``seconds`` pass on the frozen clock and wait for the refresh that falls due."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)


async def poll_status(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the status interval (30 s) pass and run refreshes until both slow polls ran.

    A refresh asks for the event log and one due slow poll, the most overdue first, so
    the error log and the camera status take two refreshes.
    """
    await poll(hass, freezer, 31)
    await poll(hass, freezer, 5)
