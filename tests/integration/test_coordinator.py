"""Polling over time: outages and recovery, lost sessions, repairs, camera changes.

These tests freeze the clock and step it; a frozen clock never ends a sleep, so their
clients get zero pacing intervals (the pacing itself is asserted in test_init).
"""

from __future__ import annotations

import itertools
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
)

from custom_components.ipro_nvr.const import DOMAIN
from ipro_sim import NvrSimulator

from .conftest import poll, poll_status

CAMERA_2 = "binary_sensor.wj_nx400_camera_2_connection"
SESSIONS = "sensor.wj_nx400_sessions_in_use"


@pytest.fixture
def pacer_intervals() -> tuple[float, float]:
    """No pacing: the clock is frozen."""
    return (0.0, 0.0)


async def test_unavailable_and_back_logs_once_each(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    nvr_sim.faults.fail_path("loglist.cgi", 500)
    for _ in range(3):
        await poll(hass, freezer)
    assert hass.states.get(CAMERA_2).state == STATE_UNAVAILABLE
    assert hass.states.get(SESSIONS).state == STATE_UNAVAILABLE
    assert hass.states.get("event.wj_nx400_event_log").state == STATE_UNAVAILABLE
    assert caplog.text.count("Error fetching") == 1

    nvr_sim.faults.reset()
    for _ in range(2):
        await poll(hass, freezer)
    assert hass.states.get(CAMERA_2).state == STATE_ON
    assert caplog.text.count("Error fetching") == 1
    assert caplog.text.count("data recovered") == 1


async def test_lost_session_is_reacquired_silently(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    nvr_sim.invalidate_uids()
    await poll(hass, freezer)
    assert hass.states.get(CAMERA_2).state == STATE_ON
    assert [r.cgi for r in nvr_sim.requests if r.status == 200].count("dlogin.cgi") == 2


async def test_auth_failure_while_running_starts_reauth(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    nvr_sim.invalidate_uids()
    nvr_sim.auth.password = "changed"
    await poll(hass, freezer)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert hass.states.get(CAMERA_2).state == STATE_UNAVAILABLE


async def test_no_free_session_repair_while_running(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    issue_id = f"no_free_session_{loaded_entry.entry_id}"
    nvr_sim.invalidate_uids()
    nvr_sim.faults.no_free_uid = True
    await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    assert hass.states.get(CAMERA_2).state == STATE_UNAVAILABLE

    nvr_sim.faults.reset()
    await poll(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    assert hass.states.get(CAMERA_2).state == STATE_ON


async def test_disk_fault_repair_follows_the_error_log(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    issue_registry: ir.IssueRegistry,
) -> None:
    issue_id = f"disk_fault_{loaded_entry.entry_id}"
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None
    nvr_sim.add_error("HDD MAIN-1 TEMPERATURE ERROR")
    await poll_status(hass, freezer)
    issue = issue_registry.async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_placeholders is not None
    assert issue.translation_placeholders["kind"] == "HDD MAIN-1 TEMPERATURE ERROR"

    nvr_sim.add_error("HDD MAIN-1 RECOVERED")
    await poll_status(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None

    nvr_sim.add_error("REC ERROR")
    await poll_status(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is not None
    nvr_sim.clear_logs()
    await poll_status(hass, freezer)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_camera_status_and_registration_changes(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    device_registry: dr.DeviceRegistry,
) -> None:
    entity_registry = er.async_get(hass)
    nvr_device = device_registry.async_get_device_by_identifier(
        (DOMAIN, loaded_entry.entry_id), loaded_entry.entry_id
    )
    assert nvr_device is not None
    assert nvr_device.model == "WJ-NX400"
    assert nvr_device.manufacturer == "i-PRO"
    camera_2 = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{loaded_entry.entry_id}_camera_2"), loaded_entry.entry_id
    )
    assert camera_2 is not None
    assert camera_2.name == "WJ-NX400 camera 2"
    assert camera_2.via_device_id == nvr_device.id

    # Camera 2 loses its connection, camera 3 is removed, camera 5 is registered.
    nvr_sim.set_camera_status(2, 2)
    nvr_sim.set_camera_status(3, 0)
    nvr_sim.set_camera_status(5, 1)
    await poll_status(hass, freezer)
    assert hass.states.get(CAMERA_2).state == STATE_OFF
    assert (
        device_registry.async_get_device_by_identifier(
            (DOMAIN, f"{loaded_entry.entry_id}_camera_3"), loaded_entry.entry_id
        )
        is None
    )
    assert entity_registry.async_get("binary_sensor.wj_nx400_camera_3_connection") is None
    assert hass.states.get("binary_sensor.wj_nx400_camera_3_connection") is None
    camera_5 = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{loaded_entry.entry_id}_camera_5"), loaded_entry.entry_id
    )
    assert camera_5 is not None
    assert camera_5.via_device_id == nvr_device.id
    assert hass.states.get("binary_sensor.wj_nx400_camera_5_connection").state == STATE_ON
    assert hass.states.get("event.wj_nx400_camera_5_log") is not None

    # Camera 3 comes back: its device and entities are created again.
    nvr_sim.set_camera_status(3, 1)
    await poll_status(hass, freezer)
    assert hass.states.get("binary_sensor.wj_nx400_camera_3_connection").state == STATE_ON


async def test_poll_cadences_and_one_extra_command_per_refresh(
    freezer: FrozenDateTimeFactory,
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    """Event log every refresh; error log and cameras every 30 s; disks every 600 s."""
    nvr_sim.requests.clear()
    refreshes = 130  # 650 s at the default 5 s interval
    for _ in range(refreshes):
        await poll(hass, freezer)

    asked = [
        "event" if ("KIND", "EVENT") in r.query else "error" if r.cgi == "loglist.cgi" else r.cgi
        for r in nvr_sim.requests
        if r.status == 200
    ]
    assert asked.count("event") == refreshes
    assert 20 <= asked.count("error") <= 22
    assert 20 <= asked.count("as_getinfo.cgi") <= 22
    assert asked.count("recordedtime.cgi") == 1
    # Never more than one command besides the event log in a refresh.
    assert all(
        not (first != "event" and second != "event") for first, second in itertools.pairwise(asked)
    )
