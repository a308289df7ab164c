"""Fixtures for the integration tests: a config entry pointing at the running simulator.

Every request goes through the real client to the real simulator over loopback. Only
the pacing is shortened: ``fast_pacer`` (tests/conftest.py, with the entry fixtures)
runs in every test here with ``pacer_intervals``.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import timedelta
from unittest.mock import PropertyMock, patch

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

from custom_components.ipro_nvr.aioipro.pacer import Pacer
from ipro_sim import SimulatorConfig

COMMAND_INTERVAL = 0.05
CONTROL_INTERVAL = 0.01


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
def _enable(enable_integration: None, fast_pacer: list[Pacer]) -> None:
    """Let Home Assistant load the integration, with short pacing, in every test here."""


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
