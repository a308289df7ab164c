"""Camera control: directctrl.cgi and camctl.cgi validate ranges and record their effect."""

from __future__ import annotations

import aiohttp
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig

from .helpers import client_session, get_text, login

OK = (200, "<HTML>\r\nOK\r\n</HTML>\r\n")


async def control(
    session: aiohttp.ClientSession, sim: NvrSimulator, cgi: str, *params: tuple[str, str]
) -> tuple[int, str]:
    return await get_text(session, sim, cgi, *params, ("PC", "AS60"))


async def test_ptz_records_speeds(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        base = (("UID", uid), ("CH", "1"))
        moves = (
            (("PAN", "16"), ("TILT", "-16"), ("ZOOM", "4")),
            (("PAN", "-256"), ("TILT", "256")),
            (("ZOOM", "-4"),),
            (("PAN", "0"), ("TILT", "0"), ("ZOOM", "0")),
        )
        for move in moves:
            assert await control(session, nvr_sim, "directctrl.cgi", *base, *move) == OK
        state = nvr_sim.camera_control[1]
        assert (state.pan, state.tilt, state.zoom, state.moves) == (0, 0, 0, 3)
        assert state.commands[1] == "PTZ PAN=-256 TILT=256 ZOOM=None"
        for bad in (
            (("CH", "1"), ("PAN", "257")),
            (("CH", "1"), ("TILT", "-257")),
            (("CH", "1"), ("ZOOM", "5")),
            (("CH", "1"), ("PAN", "fast")),
            (("CH", "6"), ("PAN", "1")),
            (("CH", "0"), ("PAN", "1")),
            (("CAM", "1"), ("PAN", "1")),
        ):
            status, _ = await control(session, nvr_sim, "directctrl.cgi", ("UID", uid), *bad)
            assert status == 400, bad
        status, _ = await get_text(session, nvr_sim, "directctrl.cgi", *base, ("PAN", "1"))
        assert status == 400
        status, _ = await control(session, nvr_sim, "directctrl.cgi", ("UID", uid), ("CH", "2"))
        assert status == 200
        assert nvr_sim.camera_control[2].moves == 0


async def test_camctl_commands(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        base = (("UID", uid), ("CH", "1"))
        commands = (
            (("CMD", "CENTERING"), ("CTRL", "START"), ("X", "320"), ("Y", "120")),
            (("CMD", "FOCUS"), ("CTRL", "NEAR"), ("CTRL", "START")),
            (("CMD", "IRIS"), ("CTRL", "RESET"), ("CTRL", "START")),
            (("CMD", "PRESETPRG"), ("NO", "256")),
            (("CMD", "PRESET"), ("NO", "7")),
            (("CMD", "AUX3"), ("CTRL", "OPEN")),
            (("CMD", "AUX8"), ("CTRL", "CLOSE")),
        )
        for command in commands:
            assert await control(session, nvr_sim, "camctl.cgi", *base, *command) == OK
        state = nvr_sim.camera_control[1]
        assert state.centering == (320, 120)
        assert (state.focus, state.iris) == ("NEAR", "RESET")
        assert (state.presets, state.current_preset) == ({256}, 7)
        assert [n for n, on in state.aux.items() if on] == [3]
        assert state.commands[1] == "FOCUS NEAR START"
        assert state.commands[3] == "PRESETPRG 256"


@pytest.mark.parametrize(
    "command",
    [
        (("CMD", "FOCUS"), ("CTRL", "START"), ("CTRL", "FAR")),
        (("CMD", "FOCUS"), ("CTRL", "FAR")),
        (("CMD", "IRIS"), ("CTRL", "FAR"), ("CTRL", "START")),
        (("CMD", "CENTERING"), ("X", "1"), ("Y", "1")),
        (("CMD", "CENTERING"), ("CTRL", "START"), ("X", "-1"), ("Y", "1")),
        (("CMD", "PRESET"), ("NO", "0")),
        (("CMD", "PRESETPRG"), ("NO", "257")),
        (("CMD", "AUX9"), ("CTRL", "OPEN")),
        (("CMD", "AUX1"), ("CTRL", "ON")),
        (("CMD", "AUX1"),),
        (("CMD", "ZOOM"),),
        (("CTRL", "START"),),
    ],
)
async def test_camctl_rejects(nvr_sim: NvrSimulator, command: tuple[tuple[str, str], ...]) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        base = (("UID", uid), ("CH", "1"))
        status, _ = await control(session, nvr_sim, "camctl.cgi", *base, *command)
    assert status == 400
    assert nvr_sim.camera_control[1].commands == []


async def test_non_ptz_camera_ignores_motion_but_has_aux() -> None:
    config = SimulatorConfig(ptz_cameras=frozenset({3}))
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        uid = await login(session, sim)
        base = (("UID", uid), ("CH", "2"))
        for command in (
            (("CMD", "CENTERING"), ("CTRL", "START"), ("X", "1"), ("Y", "2")),
            (("CMD", "FOCUS"), ("CTRL", "AUTO"), ("CTRL", "START")),
            (("CMD", "IRIS"), ("CTRL", "OPEN"), ("CTRL", "START")),
            (("CMD", "PRESETPRG"), ("NO", "1")),
            (("CMD", "PRESET"), ("NO", "1")),
            (("CMD", "AUX1"), ("CTRL", "OPEN")),
        ):
            assert await control(session, sim, "camctl.cgi", *base, *command) == OK
        state = sim.camera_control[2]
        assert (state.centering, state.focus, state.iris) == (None, None, None)
        assert (state.presets, state.current_preset) == (set(), None)
        assert state.aux[1] is True
        assert len(state.commands) == 6
