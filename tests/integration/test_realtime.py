"""At the NVR's real pacing (3 s between commands), a new event reaches the bus within 15 s.

The only test of this folder with the real pacer and the real clock (about 20 s). The
status interval is at its minimum (10 s), so most refreshes carry a second command: the
busiest schedule the options allow, with the default 5 s event-log interval.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from homeassistant.core import Event, HomeAssistant, callback
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import CONF_STATUS_INTERVAL, EVENT_IPRO_NVR
from ipro_sim import NvrSimulator

REAL_COMMAND_INTERVAL = 3.0
REAL_CONTROL_INTERVAL = 0.2
BUS_DEADLINE = 15.0


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """The NVR's own pacing."""
    return (REAL_COMMAND_INTERVAL, REAL_CONTROL_INTERVAL)


@pytest.fixture
def entry_options() -> dict[str, Any]:
    """Slow polls due as often as the options allow."""
    return {CONF_STATUS_INTERVAL: 10}


def answered_log_polls(sim: NvrSimulator) -> int:
    return sum(1 for r in sim.requests if r.cgi == "loglist.cgi" and r.status is not None)


async def test_new_event_reaches_the_bus_within_15_s(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    arrivals: list[float] = []
    fired = asyncio.Event()

    @callback
    def arrived(event: Event) -> None:
        arrivals.append(time.monotonic())
        fired.set()

    hass.bus.async_listen(EVENT_IPRO_NVR, arrived)
    # Add the entry just after a log poll was answered: the longest wait for the next one.
    # The simulator's request list has no notification, so it is watched.
    polls = answered_log_polls(nvr_sim)
    while answered_log_polls(nvr_sim) == polls:  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    added = time.monotonic()
    nvr_sim.add_event("SITE(VMD)", camera=1)
    await asyncio.wait_for(fired.wait(), BUS_DEADLINE)

    assert len(arrivals) == 1
    assert arrivals[0] - added < BUS_DEADLINE
    nvr_sim.assert_paced(REAL_COMMAND_INTERVAL, REAL_CONTROL_INTERVAL)
