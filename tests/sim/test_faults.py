"""Every fault knob, switched on while the simulator runs."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from ipro_sim import Faults, NvrSimulator, SimulatorConfig

from .helpers import (
    client_session,
    collect_parts,
    get_bytes,
    get_text,
    login,
    read_parts,
    setup_live,
    url,
)

FAST = SimulatorConfig(width=160, height=120, realtime=False)


async def start_video(
    session: aiohttp.ClientSession, sim: NvrSimulator, uid: str
) -> aiohttp.ClientResponse:
    query = (("UID", uid), ("CAM", "1"), ("CMD", "START"), ("COMP", "H264"), ("INTERNETMODE", "ON"))
    return await session.get(url(sim, "push.cgi", query))


async def read_into(response: aiohttp.ClientResponse, sink: bytearray) -> None:
    while chunk := await response.content.read(65536):
        sink += chunk


async def test_slow_answers(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        nvr_sim.faults.slow(0.3, path="/cgi-bin/recordedtime.cgi")
        started = time.monotonic()
        await get_text(session, nvr_sim, "as_getinfo.cgi", ("FILE", "2"))
        assert time.monotonic() - started < 0.25
        started = time.monotonic()
        await get_text(session, nvr_sim, "recordedtime.cgi")
        assert time.monotonic() - started >= 0.3
        nvr_sim.faults.slow(0.1)
        started = time.monotonic()
        await get_text(session, nvr_sim, "as_getinfo.cgi", ("FILE", "2"))
        assert time.monotonic() - started >= 0.1


async def test_errors_next_and_by_path(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        nvr_sim.faults.fail_next(2, status=502)
        statuses = [(await get_text(session, nvr_sim, "recordedtime.cgi"))[0] for _ in range(3)]
        assert statuses == [502, 502, 200]
        nvr_sim.faults.fail_path("loglist.cgi", 503)
        uid = await login(session, nvr_sim)
        params = (("UID", uid), ("KIND", "ERR"), ("HTML", "as_errorlog.html"))
        assert (await get_text(session, nvr_sim, "loglist.cgi", *params))[0] == 503
        nvr_sim.faults.reset()
        assert (await get_text(session, nvr_sim, "loglist.cgi", *params))[0] == 200
    assert nvr_sim.faults == Faults()


async def test_garbage(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        nvr_sim.faults.garbage(1)
        status, body = await get_bytes(session, nvr_sim, "recordedtime.cgi")
        assert status == 200
        assert not body.startswith(b"Recording information")
        assert 64 <= len(body) <= 512
        status, body = await get_bytes(session, nvr_sim, "recordedtime.cgi")
        assert body.startswith(b"Recording information")
        uid = await login(session, nvr_sim)
        nvr_sim.faults.garbage(path="push.cgi")
        response = await start_video(session, nvr_sim, uid)
        assert response.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        assert not (await response.read()).startswith(b"--myboundary")
        response.close()


@pytest.mark.parametrize("knob", ["drop_after_bytes", "drop_after_parts", "truncate_after_parts"])
async def test_streams_cut_short(knob: str) -> None:
    async with NvrSimulator(FAST) as sim, client_session(sim) as session:
        setattr(sim.faults, knob, 1000 if knob == "drop_after_bytes" else 3)
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        response = await start_video(session, sim, uid)
        received = bytearray()
        with pytest.raises(aiohttp.ClientPayloadError):
            await read_into(response, received)
        response.close()
        parts = received.count(b"--myboundary\r\n")
        if knob == "drop_after_bytes":
            assert len(received) == 1000
        elif knob == "drop_after_parts":
            assert parts == 3
            assert received.endswith(b"\r\n")
        else:
            assert parts == 4
            last = received[received.rindex(b"--myboundary") :]
            declared = int(last.split(b"Content-Length: ")[1].split(b"\r\n")[0])
            assert len(last.split(b"\r\n\r\n", 1)[1]) < declared
        for _ in range(40):
            if not sim.active_streams():
                break
            await asyncio.sleep(0.05)
        assert sim.active_streams() == []


async def test_huge_content_length() -> None:
    async with NvrSimulator(FAST) as sim, client_session(sim) as session:
        sim.faults.huge_content_length = True
        uid = await login(session, sim)
        await setup_live(session, sim, uid)
        response = await start_video(session, sim, uid)
        head = await response.content.readuntil(b"\r\n\r\n")
        response.close()
    assert b"Content-Length: 2147483648\r\n" in head


async def test_push_start_answers_204(nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.push_start_204 = True
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await setup_live(session, nvr_sim, uid)
        response = await start_video(session, nvr_sim, uid)
        assert response.status == 204
        assert await response.read() == b""
        nvr_sim.faults.reset()
        response = await start_video(session, nvr_sim, uid)
        assert response.status == 200
        assert len(await collect_parts(response, 2)) == 2
        response.close()


async def test_fault_parts_reach_downloads() -> None:
    async with NvrSimulator(FAST) as sim, client_session(sim) as session:
        sim.faults.drop_after_parts = 1
        uid = await login(session, sim)
        start = time.strftime("%y%m%d%H%M00", time.gmtime(time.time() // 60 * 60 - 600))
        end = time.strftime("%y%m%d%H%M00", time.gmtime(time.time() // 60 * 60 - 540))
        query = (
            ("UID", uid),
            ("STARTTIME", start),
            ("ENDTIME", end),
            ("KIND", "MP4"),
            ("CAM", "1"),
            ("PC", "AS60"),
        )
        response = await session.get(url(sim, "httpdl.cgi", query))
        with pytest.raises(aiohttp.ClientPayloadError):
            _ = [part async for part in read_parts(response)]
        response.close()
