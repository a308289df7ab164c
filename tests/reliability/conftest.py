"""Fixtures of the fault matrix: a loaded entry polling a simulator fast, in real time.

Every test here runs on the real clock with short intervals (the coordinator polls the
event log every ``POLL`` seconds, requests time out after ``REQUEST_TIMEOUT``, the NVR
reboots in ``REBOOT_DOWNTIME``), so a fault, its outage and the recovery take about a
second. Outcomes are read through Home Assistant's public interfaces: states, bus
events, config entry state, flows in progress and the issue registry.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Generator
from typing import Any
from unittest.mock import patch

from homeassistant.core import Event, HomeAssistant, State, callback
import pytest

from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.const import (
    CONF_EVENT_LOG_INTERVAL,
    CONF_HDD_INTERVAL,
    CONF_STATUS_INTERVAL,
    EVENT_IPRO_NVR,
)
from ipro_sim import NvrSimulator, SimulatorConfig

COMMAND_INTERVAL = 0.02
CONTROL_INTERVAL = 0.005
POLL = 1.0
STATUS_POLL = 2.0
REQUEST_TIMEOUT = 0.5
REBOOT_DOWNTIME = 0.6
CAMERA_2 = "binary_sensor.wj_nx400_camera_2_connection"
EVENT_LOG = "event.wj_nx400_event_log"


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A seeded simulator that reboots in well under a second."""
    return SimulatorConfig(seed=1, reboot_downtime=REBOOT_DOWNTIME)


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """Command and camera-control spacing for the test's clients."""
    return (COMMAND_INTERVAL, CONTROL_INTERVAL)


@pytest.fixture(autouse=True)
def _enable(enable_integration: None, fast_pacer: list[Pacer]) -> Generator[None]:
    """Let Home Assistant load the integration in every test of this folder.

    Its clients get short pacing (``fast_pacer``) and a short request timeout.
    """
    with patch("custom_components.ipro_nvr.util.REQUEST_TIMEOUT", REQUEST_TIMEOUT):
        yield


@pytest.fixture
def entry_options() -> dict[str, Any]:
    """Poll the event log every ``POLL`` s and the camera status every ``STATUS_POLL`` s.

    Whole seconds: the coordinator schedules from ``int(loop.time())``, so a shorter
    interval would poll back to back.
    """
    return {
        CONF_EVENT_LOG_INTERVAL: POLL,
        CONF_STATUS_INTERVAL: STATUS_POLL,
        CONF_HDD_INTERVAL: 600,
    }


@pytest.fixture
def bus_events(hass: HomeAssistant) -> list[dict[str, Any]]:
    """The data of every ``ipro_nvr_event`` fired during the test, in order."""
    fired: list[dict[str, Any]] = []

    @callback
    def record(event: Event) -> None:
        fired.append(dict(event.data))

    hass.bus.async_listen(EVENT_IPRO_NVR, record)
    return fired


async def until(predicate: Callable[[], bool], within: float = 10.0) -> float:
    """Wait until ``predicate`` holds and return how long it took; fail after ``within``."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    while not predicate():
        if loop.time() - start > within:
            raise AssertionError(f"still false after {within} s")
        await asyncio.sleep(0.02)
    return loop.time() - start


def state_is(hass: HomeAssistant, entity_id: str, expected: str) -> Callable[[], bool]:
    """Return a predicate: the entity's state is ``expected``."""

    def check() -> bool:
        state: State | None = hass.states.get(entity_id)
        return state is not None and state.state == expected

    return check


def logins(sim: NvrSimulator) -> int:
    """Return how many login requests reached the simulator (any answer, 401 included)."""
    return sum(1 for record in sim.requests if record.cgi == "dlogin.cgi")


def answered(sim: NvrSimulator, cgi: str, status: int = 200) -> int:
    """Return how many requests to ``cgi`` were answered with ``status``."""
    return sum(1 for record in sim.requests if record.cgi == cgi and record.status == status)


async def next_poll(hass: HomeAssistant, sim: NvrSimulator) -> None:
    """Wait until one more event-log poll was answered and its results handled."""
    seen = answered(sim, "loglist.cgi")
    await until(lambda: answered(sim, "loglist.cgi") > seen)
    await hass.async_block_till_done(wait_background_tasks=True)
