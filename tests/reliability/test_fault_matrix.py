"""The fault matrix, seen from Home Assistant: what a user would notice for each fault.

Each test injects one fault into the simulator under a loaded entry that polls every
0.2 s in real time, and asserts what the user sees: entities unavailable then back, every
log entry fired on the bus exactly once (none lost, none repeated), one warning and one
recovery line instead of a line per poll, a repair issue while sessions are exhausted,
a reauth flow (and no more password attempts) after a password change, and a camera
stream that resumes after the NVR comes back.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
from homeassistant.components.camera import async_get_stream_source
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import (
    device_registry as dr,
    entity_registry as er,
    issue_registry as ir,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import DOMAIN
from ipro_sim import NvrSimulator, SimulatorConfig
from ipro_sim.encoders import log_list_text
from tests.conftest import ENTRY_ID

from .conftest import (
    CAMERA_2,
    EVENT_LOG,
    POLL,
    REBOOT_DOWNTIME,
    REQUEST_TIMEOUT,
    answered,
    logins,
    next_poll,
    state_is,
    until,
)


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [event["kind"] for event in events]


def states_of(hass: HomeAssistant, entity_id: str) -> list[str]:
    """Record the states ``entity_id`` goes through from now on."""
    seen: list[str] = []

    @callback
    def changed(event: Event[EventStateChangedData]) -> None:
        if event.data["entity_id"] == entity_id and (state := event.data["new_state"]):
            seen.append(state.state)

    hass.bus.async_listen("state_changed", changed)
    return seen


async def outage(hass: HomeAssistant, sim: NvrSimulator) -> None:
    """Wait until the entities are unavailable, and add an event during the outage."""
    await until(state_is(hass, CAMERA_2, STATE_UNAVAILABLE))
    sim.add_event("SITE(VMD)", camera=1)
    assert state_is(hass, EVENT_LOG, STATE_UNAVAILABLE)()


async def recovered(
    hass: HomeAssistant, sim: NvrSimulator, bus_events: list[dict[str, Any]]
) -> None:
    """After the fault ends: available again, and both events fired exactly once."""
    await until(state_is(hass, CAMERA_2, STATE_ON))
    sim.add_event("SITE(VMD)", camera=2)
    await until(lambda: len(bus_events) >= 2)
    await next_poll(hass, sim)  # a later poll must not fire anything again
    assert kinds(bus_events) == ["SITE(VMD)-1", "SITE(VMD)-2"]


async def test_reboot_mid_poll(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    # Hold a log poll on the NVR, then reboot under it.
    nvr_sim.faults.slow(0.3, "loglist.cgi")
    await until(lambda: any(r.cgi == "loglist.cgi" and r.status is None for r in nvr_sim.requests))
    nvr_sim.reboot()
    nvr_sim.faults.reset()
    await outage(hass, nvr_sim)
    await nvr_sim.wait_until_up()
    await recovered(hass, nvr_sim, bus_events)
    assert caplog.text.count("Error fetching") == 1
    assert caplog.text.count("data recovered") == 1


async def test_connection_refused_for_a_while(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    nvr_sim.reboot(downtime=REBOOT_DOWNTIME * 3)
    await outage(hass, nvr_sim)
    await asyncio.sleep(REBOOT_DOWNTIME)  # several refused polls
    assert caplog.text.count("Error fetching") == 1
    assert "Cannot connect to the NVR" in caplog.text
    await recovered(hass, nvr_sim, bus_events)


async def test_timeouts(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    nvr_sim.faults.slow(REQUEST_TIMEOUT * 2, "loglist.cgi")
    await outage(hass, nvr_sim)
    assert "did not answer loglist.cgi within" in caplog.text
    nvr_sim.faults.reset()
    await recovered(hass, nvr_sim, bus_events)


async def test_http_500_keeps_the_session(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
) -> None:
    nvr_sim.faults.fail_path("loglist.cgi", 500)
    await outage(hass, nvr_sim)
    await until(lambda: answered(nvr_sim, "loglist.cgi", 500) >= 2)
    nvr_sim.faults.reset()
    await recovered(hass, nvr_sim, bus_events)
    # The UID was checked with a keep-alive each time, never replaced by a new login.
    assert answered(nvr_sim, "dlogin.cgi") == 1


async def test_garbage_bodies(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
) -> None:
    nvr_sim.faults.garbage(path="loglist.cgi")
    await outage(hass, nvr_sim)
    nvr_sim.faults.reset()
    await recovered(hass, nvr_sim, bus_events)


async def test_other_clients_evict_our_session(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
) -> None:
    states = states_of(hass, CAMERA_2)
    for round_ in range(1, 4):
        nvr_sim.login_other_clients(16)  # the oldest UID, ours, goes first
        nvr_sim.add_event("SITE(VMD)", camera=round_)
        await until(lambda: len(bus_events) == round_)  # noqa: B023 - awaited here
    await next_poll(hass, nvr_sim)
    assert kinds(bus_events) == ["SITE(VMD)-1", "SITE(VMD)-2", "SITE(VMD)-3"]
    assert answered(nvr_sim, "dlogin.cgi") == 4
    # Logged in again inside the poll that noticed: never unavailable.
    assert STATE_UNAVAILABLE not in states
    assert state_is(hass, CAMERA_2, STATE_ON)()


@pytest.mark.parametrize(
    "sim_config",
    [SimulatorConfig(seed=1, refuse_when_full=True)],
)
async def test_all_sessions_taken_503(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
    issue_registry: ir.IssueRegistry,
) -> None:
    issue_id = f"no_free_session_{loaded_entry.entry_id}"
    others = nvr_sim.login_other_clients(16)  # ours evicted, then no room: 503
    await outage(hass, nvr_sim)
    await until(lambda: issue_registry.async_get_issue(DOMAIN, issue_id) is not None)
    # One login attempt per poll at most: the 503s do not turn into a login storm.
    start, loop = logins(nvr_sim), asyncio.get_running_loop()
    began = loop.time()
    await asyncio.sleep(1.0)
    assert logins(nvr_sim) - start <= (loop.time() - began) / POLL + 1
    for uid in others:
        nvr_sim.sessions.logout(uid)
    await recovered(hass, nvr_sim, bus_events)
    assert issue_registry.async_get_issue(DOMAIN, issue_id) is None


async def test_password_changed_starts_reauth_and_stops_trying(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    nvr_sim.auth.password = "changed"
    await until(lambda: bool(hass.config_entries.flow.async_progress_by_handler(DOMAIN)))
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    await until(state_is(hass, CAMERA_2, STATE_UNAVAILABLE))
    # No lock-out loop: once reauth started, nothing more goes to the NVR with the old
    # password, however long the user takes.
    refused = answered(nvr_sim, "loglist.cgi", 401) + logins(nvr_sim)
    await asyncio.sleep(POLL * 2)
    assert answered(nvr_sim, "loglist.cgi", 401) + logins(nvr_sim) == refused
    assert loaded_entry.state is ConfigEntryState.LOADED

    # The user types the new password: the entry reloads and polls again.
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {"username": "ADMIN", "password": "changed"}
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    await until(state_is(hass, CAMERA_2, STATE_ON))


def camera_1(hass: HomeAssistant) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        "camera", DOMAIN, f"{ENTRY_ID}_camera_1_camera"
    )
    assert entity_id is not None
    return entity_id


async def test_reboot_mid_stream_resumes_the_restream(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = await async_get_stream_source(hass, camera_1(hass))
    assert url is not None
    received: list[tuple[float, int]] = []
    loop = asyncio.get_running_loop()

    async def watch() -> None:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            async for chunk in response.content.iter_any():
                received.append((loop.time(), len(chunk)))  # noqa: PERF401 - on arrival

    viewer = asyncio.create_task(watch())
    try:
        await until(lambda: sum(size for _, size in received) > 20_000)
        rebooted = loop.time()
        nvr_sim.reboot()
        await nvr_sim.wait_until_up()
        # The same viewer connection carries the new NVR stream.
        waited = await until(
            lambda: sum(size for at, size in received if at > rebooted + REBOOT_DOWNTIME) > 20_000,
            within=15,
        )
        assert not viewer.done()
        assert waited < 10
        streams = [s for s in nvr_sim.active_streams() if s.camera == 1 and s.kind == "video"]
        assert len(streams) == 1
        # The break reached the restream as the client's typed error, not a crash.
        assert "live stream interrupted, reconnecting" in caplog.text
        assert "live stream failed" not in caplog.text
    finally:
        viewer.cancel()
        await asyncio.gather(viewer, return_exceptions=True)


@pytest.mark.parametrize("sim_config", [SimulatorConfig(seed=1, log_wrap_width=None)])
async def test_truncated_log_list(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    bus_events: list[dict[str, Any]],
) -> None:
    # The answer cut right after its first (newest) entry still parses as a log list:
    # taken for the whole log, the entries it lacks would fire again once it is whole.
    text = log_list_text("EVENT", nvr_sim.event_log.lines(nvr_sim.tz), None)
    first_entry_end = text.index('"', text.index('"GMT') + 1) + 1
    nvr_sim.faults.truncate("loglist.cgi", first_entry_end)
    await outage(hass, nvr_sim)
    nvr_sim.faults.reset()
    await recovered(hass, nvr_sim, bus_events)


async def test_truncated_camera_status(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, nvr_sim: NvrSimulator
) -> None:
    # Cut after camera 2: cameras 3 and 4 are unknown for a poll, not unregistered, so
    # their devices (and the user's names, areas and automations on them) stay.
    camera_3 = CAMERA_2.replace("camera_2", "camera_3")
    devices = dr.async_get(hass)
    before = {d.id for d in dr.async_entries_for_config_entry(devices, loaded_entry.entry_id)}
    head = "<HTML>\r\nCAM_CONNECT_01CH=1\r\nCAM_CONNECT_02CH=1\r\n"
    nvr_sim.faults.truncate("as_getinfo.cgi", len(head))
    await until(state_is(hass, camera_3, STATE_UNAVAILABLE))
    assert state_is(hass, CAMERA_2, STATE_ON)()
    nvr_sim.faults.reset()
    await until(state_is(hass, camera_3, STATE_ON))
    after = {d.id for d in dr.async_entries_for_config_entry(devices, loaded_entry.entry_id)}
    assert after == before
