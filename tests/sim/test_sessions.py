"""UIDs: login page, logout, keep-alive, expiry, the 16-UID limit, lost-UID answers, reboot."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig

from .helpers import client_session, get_text, login

LOGIN_PAGE_START = (
    "<html>\r\n<head>\r\n"
    '<meta http-equiv="X-UA-Compatible" content="IE=edge">\r\n'
    '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">\r\n'
    '<meta http-equiv="Content-Script-Type" content="text/javascript">\r\n'
    '<meta http-equiv="Pragma" content="no-cache">\r\n'
    '<link rel="stylesheet" type="text/css" href="../rec_common_mlt.css">\r\n'
    "<title>Network Disk Recorder WJ-NU101</title>\r\n"
)


async def keep_alive(session: aiohttp.ClientSession, sim: NvrSimulator, uid: str) -> int:
    status, text = await get_text(session, sim, "status.cgi", ("UID", uid), ("PC", "AS60"))
    assert status != 200 or text == "<HTML>\r\nOK\r\n</HTML>\r\n" or "index.html" in text
    return status if "index.html" not in text else 0


async def test_login_page_follows_spec() -> None:
    config = SimulatorConfig(model="WJ-NU101", uid_digits=5, seed=1)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        async with session.get(f"{sim.url}/cgi-bin/dlogin.cgi?UID=-1") as response:
            assert response.status == 200
            assert response.headers["Content-Type"] == "text/html"
            text = await response.text()
        uid = sim.sessions.sessions[0].uid
    assert text.startswith(LOGIN_PAGE_START)
    assert '\tdocument.title = "Network Disk Recorder WJ-NU101";' in text
    assert len(uid) == 5
    assert (
        f'\tthis.location.href = "./hdrctl.cgi?UID={uid}&HTML=caindex.html"+ RetTempParam();'
        in text
    )
    assert text.endswith("</script>\r\n</body>\r\n</html>\r\n")


async def test_login_needs_uid_minus_one(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        for params in ((), (("UID", "5"),)):
            status, text = await get_text(session, nvr_sim, "dlogin.cgi", *params)
            assert status == 400
            assert "UID" in text
    assert nvr_sim.sessions.count == 0


async def test_logout_and_keep_alive(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        assert await keep_alive(session, nvr_sim, uid) == 200
        status, _ = await get_text(session, nvr_sim, "status.cgi", ("UID", uid))
        assert status == 400
        status, text = await get_text(session, nvr_sim, "logout.cgi", ("UID", uid))
        assert (status, text) == (200, "<HTML>\r\nOK\r\n</HTML>\r\n")
        assert await keep_alive(session, nvr_sim, uid) == 0
        status, text = await get_text(session, nvr_sim, "logout.cgi", ("UID", uid))
        assert "index.html" in text
    assert nvr_sim.sessions.count == 0


async def test_uid_expires_and_use_restarts_the_clock() -> None:
    config = SimulatorConfig(uid_lifetime=0.4)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        kept = await login(session, sim)
        dropped = await login(session, sim)
        for _ in range(4):
            await asyncio.sleep(0.15)
            assert await keep_alive(session, sim, kept) == 200
        assert await keep_alive(session, sim, dropped) == 0
        assert [s.uid for s in sim.sessions.sessions] == [kept]
        await asyncio.sleep(0.5)
        assert sim.sessions.count == 0


@pytest.mark.parametrize(
    ("answer", "status", "body"),
    [("403", 403, "403"), ("empty", 200, ""), ("login", 200, "Network Disk Recorder")],
)
async def test_unknown_uid_answers(answer: str, status: int, body: str) -> None:
    config = SimulatorConfig(invalid_uid_answer=answer)  # type: ignore[arg-type]
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        got_status, text = await get_text(
            session,
            sim,
            "loglist.cgi",
            ("UID", "42"),
            ("KIND", "ERR"),
            ("HTML", "as_errorlog.html"),
        )
    assert got_status == status
    assert body in text
    if answer == "empty":
        assert text == ""
    assert "UID=" not in text


async def test_sixteen_uid_limit_evicts_the_oldest(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uids = [await login(session, nvr_sim) for _ in range(16)]
        assert len(set(uids)) == 16
        _, info = await get_text(session, nvr_sim, "as_getinfo.cgi", ("FILE", "2"))
        assert "MAXUID=16\r\nUSEDUID=16\r\n" in info
        await keep_alive(session, nvr_sim, uids[0])
        newest = await login(session, nvr_sim)
        assert await keep_alive(session, nvr_sim, uids[0]) == 0
        assert await keep_alive(session, nvr_sim, uids[1]) == 200
        assert await keep_alive(session, nvr_sim, newest) == 200
        _, info = await get_text(session, nvr_sim, "as_getinfo.cgi", ("FILE", "2"))
        assert "USEDUID=16" in info


async def test_refuse_when_full_and_no_free_uid_knob() -> None:
    config = SimulatorConfig(max_uids=2, refuse_when_full=True)
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        await login(session, sim)
        await login(session, sim)
        status, _ = await get_text(session, sim, "dlogin.cgi", ("UID", "-1"))
        assert status == 503
        sim.invalidate_uids()
        assert await login(session, sim)
        sim.faults.no_free_uid = True
        status, _ = await get_text(session, sim, "dlogin.cgi", ("UID", "-1"))
        assert status == 503


async def test_invalidate_uids(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        nvr_sim.invalidate_uids()
        assert await keep_alive(session, nvr_sim, uid) == 0


async def test_reboot_refuses_connections_then_comes_back(nvr_sim: NvrSimulator) -> None:
    port = nvr_sim.port
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        nvr_sim.reboot(downtime=5.0)
        nvr_sim.reboot(downtime=0.3)
        assert not nvr_sim.is_up
        with pytest.raises(aiohttp.ClientConnectionError):
            await get_text(session, nvr_sim, "recordedtime.cgi")
        await nvr_sim.wait_until_up()
        assert nvr_sim.is_up
        assert nvr_sim.port == port
        assert await keep_alive(session, nvr_sim, uid) == 0
        assert await login(session, nvr_sim)


async def test_unknown_path_and_method(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        status, _ = await get_text(session, nvr_sim, "nothing.cgi")
        assert status == 404
        async with session.get(f"{nvr_sim.url}/index.html") as response:
            assert response.status == 404
        async with session.post(f"{nvr_sim.url}/cgi-bin/recordedtime.cgi") as response:
            assert response.status == 405


async def test_other_clients_take_uids(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
        others = nvr_sim.login_other_clients(15)
        assert len(others) == 15
        assert await keep_alive(session, nvr_sim, uid) == 200
        nvr_sim.login_other_clients()
        assert await keep_alive(session, nvr_sim, uid) == 0
        assert nvr_sim.sessions.count == 16
