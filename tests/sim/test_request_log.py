"""The request log and assert_paced, which client tests use to check their pacing."""

from __future__ import annotations

import asyncio
import time

import pytest

from ipro_sim import NvrSimulator, RequestRecord

from .helpers import client_session, get_text, login


async def test_records_keep_the_query_as_sent(nvr_sim: NvrSimulator) -> None:
    before = time.monotonic()
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await get_text(
            session,
            nvr_sim,
            "camctl.cgi",
            ("UID", uid),
            ("CH", "1"),
            ("CMD", "FOCUS"),
            ("CTRL", "FAR"),
            ("CTRL", "START"),
            ("PC", "AS60"),
        )
        await get_text(session, nvr_sim, "nothing.cgi", ("A", "x%20y"), ("FLAG", ""))
    challenge, login_record, focus, missing = nvr_sim.requests
    assert (challenge.status, login_record.status, focus.status, missing.status) == (
        401,
        200,
        200,
        404,
    )
    assert login_record.query == [("UID", "-1")]
    assert login_record.uid == "-1"
    assert focus == RequestRecord(
        time=focus.time,
        method="GET",
        path="/cgi-bin/camctl.cgi",
        query=[
            ("UID", uid),
            ("CH", "1"),
            ("CMD", "FOCUS"),
            ("CTRL", "FAR"),
            ("CTRL", "START"),
            ("PC", "AS60"),
        ],
        uid=uid,
        status=200,
    )
    assert focus.cgi == "camctl.cgi"
    assert missing.query == [("A", "x y"), ("FLAG", "")]
    assert missing.uid is None
    assert before <= challenge.time <= login_record.time <= focus.time <= time.monotonic()


async def test_streams_record_their_status_at_start(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await get_text(
            session, nvr_sim, "hdrctl.cgi", ("UID", uid), ("SCREEN", "16X"), ("PC", "AS60")
        )
        query = f"UID={uid}&CAM=1&CMD=START&COMP=JPEG&INTERNETMODE=ON"
        async with session.get(f"{nvr_sim.url}/cgi-bin/push.cgi?{query}") as response:
            await response.content.readline()
            assert nvr_sim.requests[-1].status == 200


async def send_paced(nvr_sim: NvrSimulator, plan: list[tuple[str, float]]) -> None:
    """Send each CGI of ``plan`` after waiting its delay; UID-less where possible."""
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        await asyncio.sleep(0.12)
        await get_text(
            session, nvr_sim, "hdrctl.cgi", ("UID", uid), ("PC", "AS60"), ("MASK", "1" + "0" * 15)
        )
        for cgi, delay in plan:
            await asyncio.sleep(delay)
            if cgi == "directctrl.cgi":
                await get_text(
                    session, nvr_sim, cgi, ("UID", uid), ("CH", "1"), ("PAN", "1"), ("PC", "AS60")
                )
            elif cgi == "camera.cgi":
                await get_text(session, nvr_sim, cgi, ("UID", uid), ("CAM", "1"))
            else:
                await get_text(session, nvr_sim, "recordedtime.cgi")


async def test_assert_paced_lanes(nvr_sim: NvrSimulator) -> None:
    await send_paced(
        nvr_sim,
        [
            ("recordedtime.cgi", 0.12),
            ("directctrl.cgi", 0.0),
            ("directctrl.cgi", 0.06),
            ("camera.cgi", 0.0),
            ("recordedtime.cgi", 0.06),
        ],
    )
    nvr_sim.assert_paced(0.1, 0.05)
    with pytest.raises(AssertionError) as failure:
        nvr_sim.assert_paced(0.2, 0.1)
    message = str(failure.value)
    assert message.startswith("requests not paced:\n")
    assert "directctrl.cgi came 0.0" in message
    assert "(control lane needs 0.1 s)" in message
    assert "(command lane needs 0.2 s)" in message


async def test_assert_paced_catches_a_burst(nvr_sim: NvrSimulator) -> None:
    await send_paced(nvr_sim, [("recordedtime.cgi", 0.12), ("recordedtime.cgi", 0.0)])
    with pytest.raises(AssertionError, match=r"recordedtime\.cgi came"):
        nvr_sim.assert_paced(0.05, 0.01)
    nvr_sim.assert_paced(0.0, 0.0)
