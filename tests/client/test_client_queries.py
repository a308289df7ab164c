"""Each client method's request as the simulator recorded it: path and ordered query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from custom_components.ipro_nvr.aioipro import AuxAction, FocusAction, IrisAction
from custom_components.ipro_nvr.aioipro.client import IproClient
from ipro_sim import NvrSimulator

type Call = Callable[[IproClient], Awaitable[object]]

CONTROL_CASES: list[tuple[Call, str, list[tuple[str, str]]]] = [
    (
        lambda c: c.ptz(1, pan=-256, tilt=16, zoom=4),
        "directctrl.cgi",
        [("CH", "1"), ("PAN", "-256"), ("TILT", "16"), ("ZOOM", "4"), ("PC", "AS60")],
    ),
    (
        lambda c: c.center(1, 100, 200),
        "camctl.cgi",
        [
            ("CH", "1"),
            ("CMD", "CENTERING"),
            ("CTRL", "START"),
            ("X", "100"),
            ("Y", "200"),
            ("PC", "AS60"),
        ],
    ),
    (
        lambda c: c.focus(1, FocusAction.FAR),
        "camctl.cgi",
        [("CH", "1"), ("CMD", "FOCUS"), ("CTRL", "FAR"), ("CTRL", "START"), ("PC", "AS60")],
    ),
    (
        lambda c: c.focus(1, FocusAction.AUTO),
        "camctl.cgi",
        [("CH", "1"), ("CMD", "FOCUS"), ("CTRL", "AUTO"), ("CTRL", "START"), ("PC", "AS60")],
    ),
    (
        lambda c: c.iris(1, IrisAction.CLOSE),
        "camctl.cgi",
        [("CH", "1"), ("CMD", "IRIS"), ("CTRL", "CLOSE"), ("CTRL", "START"), ("PC", "AS60")],
    ),
    (
        lambda c: c.set_preset(1, 256),
        "camctl.cgi",
        [("CH", "1"), ("CMD", "PRESETPRG"), ("NO", "256"), ("PC", "AS60")],
    ),
    (
        lambda c: c.goto_preset(1, 3),
        "camctl.cgi",
        [("CH", "1"), ("CMD", "PRESET"), ("NO", "3"), ("PC", "AS60")],
    ),
    (
        lambda c: c.aux(1, 8, AuxAction.OPEN),
        "camctl.cgi",
        [("CH", "1"), ("CMD", "AUX8"), ("CTRL", "OPEN"), ("PC", "AS60")],
    ),
    (
        lambda c: c.get_error_log(),
        "loglist.cgi",
        [("KIND", "ERR"), ("HTML", "as_errorlog.html")],
    ),
    (
        lambda c: c.get_event_log(),
        "loglist.cgi",
        [("KIND", "EVENT"), ("HTML", "as_eventlog.html")],
    ),
    (lambda c: c.keep_alive(), "status.cgi", [("PC", "AS60")]),
]


@pytest.mark.parametrize(("call", "cgi", "params"), CONTROL_CASES)
async def test_uid_command_query(
    client: IproClient,
    nvr_sim: NvrSimulator,
    call: Call,
    cgi: str,
    params: list[tuple[str, str]],
) -> None:
    await client.login()
    uid = nvr_sim.sessions.sessions[0].uid
    await call(client)
    record = nvr_sim.requests[-1]
    assert (record.path, record.status) == (f"/cgi-bin/{cgi}", 200)
    assert record.query == [("UID", uid), *params]


async def test_commands_without_uid(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.get_camera_connection()
    await client.get_hdd_info()
    records = [r for r in nvr_sim.requests if r.status == 200]
    assert [(r.path, r.query) for r in records] == [
        ("/cgi-bin/as_getinfo.cgi", [("FILE", "2")]),
        ("/cgi-bin/recordedtime.cgi", []),
    ]


async def test_camera_control_validates_before_sending(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    await client.login()
    before = len(nvr_sim.requests)
    with pytest.raises(ValueError, match="pan"):
        await client.ptz(1, pan=300)
    with pytest.raises(ValueError, match="zoom"):
        await client.ptz(1, zoom=-5)
    with pytest.raises(ValueError, match="preset"):
        await client.goto_preset(1, 0)
    with pytest.raises(ValueError, match="AUX"):
        await client.aux(1, 0, AuxAction.OPEN)
    assert len(nvr_sim.requests) == before


async def test_camera_control_reaches_the_camera(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.focus(1, FocusAction.NEAR)
    await client.iris(1, IrisAction.OPEN)
    await client.set_preset(1, 7)
    await client.goto_preset(1, 7)
    await client.aux(1, 2, AuxAction.OPEN)
    await client.center(1, 10, 20)
    state = nvr_sim.camera_control[1]
    assert (state.focus, state.iris, state.current_preset) == ("NEAR", "OPEN", 7)
    assert 7 in state.presets
    assert state.aux[2] is True
    assert state.centering == (10, 20)
