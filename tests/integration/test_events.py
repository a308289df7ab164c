"""Log entries become bus events and event entity states exactly once, against the simulator.

The log grows, repeats identical entries, wraps at 1000 entries and is cleared; the entry
restarts in between. Time is frozen and stepped, so the clients get no pacing (see
test_realtime for the real 3 s).
"""

from __future__ import annotations

from datetime import UTC, datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components import automation
from homeassistant.components.device_automation import DeviceAutomationType
from homeassistant.const import CONF_DEVICE_ID, CONF_DOMAIN, CONF_PLATFORM, CONF_TYPE
from homeassistant.core import Event, HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_capture_events,
    async_get_device_automations,
    async_mock_service,
)

from custom_components.ipro_nvr.const import DOMAIN, EVENT_IPRO_NVR
from ipro_sim import NvrSimulator
from tests.conftest import setup_entry

from .conftest import poll, poll_status

EVENT_LOG = "event.wj_nx400_event_log"
ERROR_LOG = "event.wj_nx400_error_log"
CAMERA_2_LOG = "event.wj_nx400_camera_2_log"


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """No pacing: the clock is frozen."""
    return (0.0, 0.0)


@pytest.fixture
def events(hass: HomeAssistant) -> list[Event]:
    """Every ``ipro_nvr_event`` fired from the start of the test."""
    return async_capture_events(hass, EVENT_IPRO_NVR)


def device_id(hass: HomeAssistant, entry: MockConfigEntry, suffix: str = "") -> str:
    device = dr.async_get(hass).async_get_device_by_identifier(
        (DOMAIN, f"{entry.entry_id}{suffix}"), entry.entry_id
    )
    assert device is not None
    return device.id


def kinds(events: list[Event]) -> list[str]:
    return [event.data["kind"] for event in events]


async def test_entries_present_at_first_start_fire_nothing(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    assert len(nvr_sim.event_log.entries) == 3
    await poll(hass, freezer)
    assert events == []
    assert hass.states.get(EVENT_LOG).state == "unknown"


async def test_new_entries_fire_once_with_their_device(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    when = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    nvr_sim.add_event("SITE(VMD)", camera=2, at=when)
    nvr_sim.add_event("COMMAND ALARM", at=when)
    await poll(hass, freezer)
    await poll(hass, freezer)

    assert [event.data for event in events] == [
        {
            "log": "event",
            "kind": "SITE(VMD)-2",
            "camera": 2,
            "time": "2026-11-24T10:00:00+00:00",
            "type": "motion",
            "entry_id": loaded_entry.entry_id,
            "device_id": device_id(hass, loaded_entry, "_camera_2"),
        },
        {
            "log": "event",
            "kind": "COMMAND ALARM",
            "camera": None,
            "time": "2026-11-24T10:00:00+00:00",
            "type": "alarm",
            "entry_id": loaded_entry.entry_id,
            "device_id": device_id(hass, loaded_entry),
        },
    ]

    state = hass.states.get(EVENT_LOG)
    assert state.attributes["event_type"] == "alarm"
    assert state.attributes["kind"] == "COMMAND ALARM"
    assert state.attributes["camera"] is None
    camera_state = hass.states.get(CAMERA_2_LOG)
    assert camera_state.attributes["event_type"] == "motion"
    assert camera_state.attributes["kind"] == "SITE(VMD)-2"
    assert camera_state.attributes["log"] == "event"
    assert camera_state.attributes["time"] == "2026-11-24T10:00:00+00:00"
    assert hass.states.get("sensor.wj_nx400_last_event").state == "COMMAND ALARM"


async def test_identical_entries_in_one_second_fire_each(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    when = datetime(2026, 11, 24, 10, 0, 0, tzinfo=UTC)
    nvr_sim.add_event("SITE(VMD)", camera=1, at=when)
    nvr_sim.add_event("SITE(VMD)", camera=1, at=when)
    await poll(hass, freezer)
    assert kinds(events) == ["SITE(VMD)-1", "SITE(VMD)-1"]
    nvr_sim.add_event("SITE(VMD)", camera=1, at=when)
    await poll(hass, freezer)
    await poll(hass, freezer)
    assert kinds(events) == ["SITE(VMD)-1"] * 3


async def test_error_log_entries_fire_with_their_camera(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    nvr_sim.set_camera_status(2, 2)
    await poll_status(hass, freezer)
    assert len(events) == 1
    assert events[0].data["log"] == "error"
    assert events[0].data["kind"] == "CAM 2 COMMUNICATION ERROR"
    assert events[0].data["type"] == "communication_error"
    assert events[0].data["device_id"] == device_id(hass, loaded_entry, "_camera_2")
    error_state = hass.states.get(ERROR_LOG)
    assert error_state.attributes["event_type"] == "communication_error"
    assert error_state.attributes["camera"] == 2
    assert hass.states.get(CAMERA_2_LOG).attributes["log"] == "error"
    assert hass.states.get(EVENT_LOG).state == "unknown"
    assert hass.states.get("sensor.wj_nx400_last_error").state == "CAM 2 COMMUNICATION ERROR"

    nvr_sim.set_camera_status(2, 1)
    await poll_status(hass, freezer)
    assert kinds(events) == ["CAM 2 COMMUNICATION ERROR", "CAM 2 COMMUNICATION RECOVERED"]
    assert events[1].data["type"] == "communication_recovered"


async def test_log_that_wraps_at_1000_entries(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    config_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    base = datetime(2026, 11, 24, 0, 0, 0, tzinfo=UTC).timestamp()
    for n in range(1000):
        nvr_sim.add_event("SITE(VMD)", camera=n % 4 + 1, at=base + n)
    assert len(nvr_sim.event_log.entries) == 1000
    await setup_entry(hass, config_entry)
    assert events == []

    added = 0
    for round_size in (1, 7, 30):
        for _ in range(round_size):
            nvr_sim.add_event("TERMINAL", camera=1, at=base + 1000 + added)
            added += 1
        await poll(hass, freezer)
        assert len(nvr_sim.event_log.entries) == 1000
        assert len(events) == added
    await poll(hass, freezer)
    assert len(events) == added
    assert [event.data["time"] for event in events] == sorted(
        event.data["time"] for event in events
    )


async def test_cleared_log(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    nvr_sim.clear_logs()
    await poll(hass, freezer)
    assert events == []
    nvr_sim.add_event("COMMAND ALARM")
    await poll(hass, freezer)
    assert kinds(events) == ["COMMAND ALARM"]


async def test_restart_fires_only_what_came_while_stopped(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    events: list[Event],
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    *,
    hass_storage: dict[str, object],
) -> None:
    nvr_sim.add_event("SITE(VMD)", camera=3)
    await poll(hass, freezer)
    assert kinds(events) == ["SITE(VMD)-3"]

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    assert f"{DOMAIN}.{loaded_entry.entry_id}" in hass_storage
    nvr_sim.add_event("SITE(VMD)", camera=4)
    nvr_sim.add_error("NETWORK ERROR")
    await setup_entry(hass, loaded_entry)
    assert kinds(events) == ["SITE(VMD)-3", "SITE(VMD)-4", "NETWORK ERROR"]

    await poll_status(hass, freezer)
    assert len(events) == 3


async def test_device_triggers(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    nvr_id = device_id(hass, loaded_entry)
    camera_2_id = device_id(hass, loaded_entry, "_camera_2")
    triggers = await async_get_device_automations(hass, DeviceAutomationType.TRIGGER, camera_2_id)
    assert {(t[CONF_TYPE], t["subtype"]) for t in triggers if t[CONF_DOMAIN] == DOMAIN} == {
        (event_type, log)
        for event_type in (
            "motion",
            "alarm",
            "communication_error",
            "communication_recovered",
            "recording",
            "other",
        )
        for log in ("event_log", "error_log")
    }

    calls = async_mock_service(hass, "test", "automation")
    assert await async_setup_component(
        hass,
        automation.DOMAIN,
        {
            automation.DOMAIN: [
                {
                    "trigger": {
                        CONF_PLATFORM: "device",
                        CONF_DOMAIN: DOMAIN,
                        CONF_DEVICE_ID: device,
                        CONF_TYPE: "motion",
                        "subtype": "event_log",
                    },
                    "action": {
                        "service": "test.automation",
                        "data": {"who": name, "kind": "{{ trigger.event.data.kind }}"},
                    },
                }
                for device, name in ((camera_2_id, "camera 2"), (nvr_id, "nvr"))
            ]
        },
    )
    nvr_sim.add_event("SITE(VMD)", camera=2)
    nvr_sim.add_event("SITE(VMD)", camera=3)
    nvr_sim.add_event("COMMAND ALARM")
    await poll(hass, freezer)

    def seen(call: ServiceCall) -> tuple[str, str]:
        return (call.data["who"], call.data["kind"])

    assert sorted(seen(call) for call in calls) == [
        ("camera 2", "SITE(VMD)-2"),
        ("nvr", "SITE(VMD)-2"),
        ("nvr", "SITE(VMD)-3"),
    ]
