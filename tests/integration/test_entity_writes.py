"""Camera entities write their state only when their status or the NVR's reachability changed.

A new log entry changes the coordinator's data; on a 128-camera NVR every camera entity
writing its unchanged state again was over 600 writes per entry (benchmarks/bench_idle.py).
"""

from __future__ import annotations

from collections import Counter

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import EVENT_IPRO_NVR
from ipro_sim import NvrSimulator

from .conftest import poll, poll_status

CAMERA_2_CONNECTION = "binary_sensor.wj_nx400_camera_2_connection"


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """No pacing: the clock is frozen."""
    return (0.0, 0.0)


@pytest.fixture
def camera_writes(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> Counter[str]:
    """Count state writes (changed or reported again) of camera-tier entities, by entity."""
    registry = er.async_get(hass)
    camera_entities = {
        entity.entity_id
        for entity in er.async_entries_for_config_entry(registry, loaded_entry.entry_id)
        if "_camera_" in entity.unique_id
    }
    assert camera_entities
    writes: Counter[str] = Counter()

    @callback
    def count(event: Event) -> None:
        writes[event.data["entity_id"]] += 1

    @callback
    def is_camera_entity(data: dict[str, str]) -> bool:
        return data["entity_id"] in camera_entities

    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        hass.bus.async_listen(event_type, count, event_filter=is_camera_entity)
    return writes


async def test_a_new_log_entry_writes_no_camera_entity(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    camera_writes: Counter[str],
) -> None:
    fired: list[Event] = []
    hass.bus.async_listen(EVENT_IPRO_NVR, fired.append)
    nvr_sim.add_event("COMMAND ALARM")
    await poll(hass, freezer)

    assert [event.data["kind"] for event in fired] == ["COMMAND ALARM"]
    assert hass.states.get("sensor.wj_nx400_last_event").state == "COMMAND ALARM"
    assert camera_writes == Counter()


async def test_a_camera_status_change_writes_that_camera_only(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    camera_writes: Counter[str],
) -> None:
    nvr_sim.set_camera_status(2, 2, log=False)
    await poll_status(hass, freezer)

    assert hass.states.get(CAMERA_2_CONNECTION).state == "off"
    assert camera_writes
    assert all("camera_2" in entity_id for entity_id in camera_writes)


async def test_a_failed_poll_and_the_recovery_write_every_camera_entity(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    nvr_sim: NvrSimulator,
    camera_writes: Counter[str],
) -> None:
    nvr_sim.faults.garbage(path="loglist.cgi")
    await poll(hass, freezer)
    assert hass.states.get(CAMERA_2_CONNECTION).state == "unavailable"
    unavailable = Counter(camera_writes)

    nvr_sim.faults.reset()
    await poll(hass, freezer)

    assert hass.states.get(CAMERA_2_CONNECTION).state == "on"
    assert set(unavailable) == set(camera_writes)
    assert all(count == 1 for count in unavailable.values())
    assert all(count == 2 for count in camera_writes.values())
