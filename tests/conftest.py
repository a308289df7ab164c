"""Shared fixtures.

``custom_components.ipro_nvr`` is imported here, before Home Assistant starts, so that
the plugin's own ``testing_config/custom_components`` package does not shadow ours.
Sockets stay blocked by the plugin except for 127.0.0.1, where the simulator listens.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

import custom_components.ipro_nvr  # noqa: F401
from ipro_sim import NvrSimulator, SimulatorConfig


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
