"""IproClient against the simulator: login, authentication, errors, sessions, close."""

from __future__ import annotations

import asyncio
import logging
import re
import socket

import aiohttp
import pytest

from custom_components.ipro_nvr.aioipro import (
    CameraStatus,
    IproAuthError,
    IproBusyError,
    IproConnectionError,
    IproNoFreeSessionError,
    IproProtocolError,
    IproSessionLostError,
    IproTimeoutError,
)
from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.aioipro.session import SessionRole, UidSession, mask_uid
from ipro_sim import NvrSimulator, SimulatorConfig

from .conftest import ClientMaker, queries, requests_to


async def test_login_returns_model(client: IproClient, nvr_sim: NvrSimulator) -> None:
    info = await client.login()
    assert info.model == "WJ-NX400"
    assert client.nvr_info == info
    assert queries(nvr_sim, "dlogin.cgi") == [[("UID", "-1")]]
    # A second login() reuses the control UID.
    assert await client.login() == info
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1


@pytest.mark.parametrize(
    "sim_config",
    [
        SimulatorConfig(auth="digest", digest_algorithms=("MD5",)),
        SimulatorConfig(auth="digest", digest_algorithms=("SHA-256",)),
        SimulatorConfig(auth="digest", digest_algorithms=("SHA-256", "MD5")),
        SimulatorConfig(auth="basic"),
    ],
    ids=["md5", "sha256", "sha256-and-md5", "basic"],
)
async def test_auth_schemes(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    await client.get_event_log()
    await client.get_hdd_info()
    # One challenge round, then credentials go with every request.
    assert [r.status for r in nvr_sim.requests].count(401) == 1
    assert nvr_sim.requests[-1].status == 200


async def test_wrong_password(make_client: ClientMaker) -> None:
    client = make_client(password="wrong")
    with pytest.raises(IproAuthError, match="user name or password"):
        await client.login()


async def test_password_changed_later(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    nvr_sim.faults.reject_credentials = True
    with pytest.raises(IproAuthError):
        await client.get_event_log()


async def test_no_free_session(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.no_free_uid = True
    with pytest.raises(IproNoFreeSessionError, match="no free session"):
        await client.login()


async def test_connection_refused(
    http_session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = IproClient(http_session, "127.0.0.1", port, username="a", password="b")
    with pytest.raises(IproConnectionError, match=f"127.0.0.1:{port}") as err:
        await client.login()
    assert "check the host name" in str(err.value)
    await client.close()


async def test_timeout(make_client: ClientMaker, nvr_sim: NvrSimulator) -> None:
    client = make_client(request_timeout=0.2)
    nvr_sim.faults.slow(1.0, "dlogin.cgi")
    with pytest.raises(IproTimeoutError, match=re.escape("did not answer dlogin.cgi within 0.2 s")):
        await client.login()


@pytest.mark.parametrize("sim_config", [SimulatorConfig(ssl=True)], ids=["https"])
async def test_https_self_signed(make_client: ClientMaker, nvr_sim: NvrSimulator) -> None:
    unverified = make_client(verify_ssl=False)
    assert (await unverified.login()).model == "WJ-NX400"
    verified = make_client(verify_ssl=True)
    with pytest.raises(IproConnectionError, match="certificate"):
        await verified.login()


@pytest.mark.parametrize("sim_config", [SimulatorConfig(ssl=True)], ids=["https"])
async def test_http_client_against_https_port(make_client: ClientMaker) -> None:
    client = make_client(ssl=False)
    with pytest.raises(IproConnectionError, match=re.escape("broke during dlogin.cgi")):
        await client.login()


async def test_default_ports(http_session: aiohttp.ClientSession) -> None:
    client = IproClient(http_session, "nvr", username="a", password="b")
    assert (client.host, client.port) == ("nvr", 80)
    assert IproClient(http_session, "nvr", ssl=True, username="a", password="b").port == 443
    with pytest.raises(ValueError):
        IproClient(http_session, "nvr", username="a", password="b", request_timeout=0)


@pytest.mark.parametrize(
    "sim_config",
    [
        SimulatorConfig(invalid_uid_answer="login"),
        SimulatorConfig(invalid_uid_answer="403"),
        SimulatorConfig(invalid_uid_answer="empty"),
    ],
    ids=["login-page", "http-403", "empty-body"],
)
async def test_lost_uid_logs_in_again_once(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    nvr_sim.invalidate_uids()
    log = await client.get_event_log()
    assert log.entries
    assert len(queries(nvr_sim, "dlogin.cgi")) == 2
    loglists = requests_to(nvr_sim, "loglist.cgi")
    assert len(loglists) == 2
    assert loglists[0].uid != loglists[1].uid


@pytest.mark.parametrize("sim_config", [SimulatorConfig(uid_lifetime=0.03)], ids=["short-uid"])
async def test_lost_uid_twice_raises(client: IproClient, nvr_sim: NvrSimulator) -> None:
    # Every UID dies before its next use: one new login and one retry, then an error.
    await client.login()
    with pytest.raises(IproSessionLostError, match="dropped the control session again"):
        await client.get_error_log()
    assert len(queries(nvr_sim, "dlogin.cgi")) == 2
    assert len(requests_to(nvr_sim, "loglist.cgi")) == 2


async def test_http_error_on_a_valid_uid_keeps_the_session(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    await client.login()
    nvr_sim.faults.fail_path("loglist.cgi", 500)
    with pytest.raises(IproProtocolError, match=re.escape("refused loglist.cgi with HTTP 500")):
        await client.get_error_log()
    # A keep-alive showed the UID valid: no new login.
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1
    assert len(requests_to(nvr_sim, "status.cgi")) == 1


async def test_lost_uid_on_camera_control(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    nvr_sim.invalidate_uids()
    await client.ptz(1, pan=10)
    assert len(queries(nvr_sim, "dlogin.cgi")) == 2
    assert nvr_sim.camera_control[1].pan == 10


async def test_camera_connection_and_hdd(client: IproClient) -> None:
    info = await client.get_camera_connection()
    assert info.camera_count == 16
    assert info.cameras[1] is CameraStatus.NORMAL
    assert info.cameras[16] is CameraStatus.NOT_REGISTERED
    assert await client.camera_count() == 16
    hdd = await client.get_hdd_info()
    assert hdd.disks[0].name == "MAIN-1"
    assert hdd.disks[0].installed


async def test_logs(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.add_event("SITE(VMD)", camera=2)
    nvr_sim.add_error("COMMUNICATION ERROR", camera=3)
    events = await client.get_event_log()
    errors = await client.get_error_log()
    assert events.entries[0].kind == "SITE(VMD)-2"
    assert events.entries[0].camera == 2
    assert errors.entries[0].camera == 3


async def test_keep_alive_only_when_idle(make_client: ClientMaker, nvr_sim: NvrSimulator) -> None:
    client = make_client(keepalive_interval=0.3)
    await client.login()
    # Busy: a poll every 0.1 s keeps the UID alive by itself.
    for _ in range(8):
        await client.get_event_log()
        await asyncio.sleep(0.05)
    assert requests_to(nvr_sim, "status.cgi") == []
    # Idle: the background task sends status.cgi.
    await asyncio.sleep(0.8)
    keepalives = queries(nvr_sim, "status.cgi")
    assert keepalives
    uid = requests_to(nvr_sim, "loglist.cgi")[0].uid
    assert keepalives[0] == [("UID", uid), ("PC", "AS60")]
    await client.keep_alive()


async def test_keep_alive_failure_is_logged(
    make_client: ClientMaker, nvr_sim: NvrSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    client = make_client(keepalive_interval=0.2)
    await client.login()
    nvr_sim.faults.no_free_uid = True
    nvr_sim.invalidate_uids()
    await asyncio.sleep(0.5)
    assert "Keep-alive of the control session" in caplog.text


async def test_ptz_does_not_wait_behind_a_slow_poll(
    make_client: ClientMaker, nvr_sim: NvrSimulator
) -> None:
    client = make_client()
    await client.login()
    nvr_sim.faults.slow(1.0, "loglist.cgi")
    poll = asyncio.create_task(client.get_event_log())
    await asyncio.sleep(0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await client.ptz(1, pan=5, tilt=-5, zoom=1)
    await client.ptz(1)
    assert loop.time() - start < 0.5
    assert not poll.done()
    await poll


async def test_close_logs_out_every_uid(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    async with client.playback() as playback:
        await playback.mask([1])
        await client.close()
    logged_out = {r.uid for r in requests_to(nvr_sim, "logout.cgi")}
    logged_in = len(queries(nvr_sim, "dlogin.cgi"))
    assert len(logged_out) == logged_in == 2
    assert nvr_sim.sessions.count == 0
    with pytest.raises(RuntimeError):
        await client.get_event_log()
    with pytest.raises(RuntimeError):
        await client.get_hdd_info()


async def test_credentials_and_uids_stay_out_of_logs(
    client: IproClient, nvr_sim: NvrSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="custom_components.ipro_nvr.aioipro")
    await client.login()
    nvr_sim.invalidate_uids()
    await client.get_event_log()
    uids = {r.uid for r in nvr_sim.requests if r.uid and r.uid != "-1"}
    assert uids
    client_logs = "\n".join(
        r.getMessage() for r in caplog.records if r.name.startswith("custom_components")
    )
    assert "logging in again" in client_logs
    assert "12345" not in client_logs
    for uid in uids:
        assert uid not in client_logs


async def test_https_client_against_http_port(make_client: ClientMaker) -> None:
    client = make_client(ssl=True)
    with pytest.raises(IproConnectionError, match="TLS handshake"):
        await client.login()


async def test_login_answered_with_an_error(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.fail_path("dlogin.cgi", 500)
    with pytest.raises(IproProtocolError, match="HTTP 500"):
        await client.login()


async def test_commands_without_uid_refused(client: IproClient, nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.fail_path("recordedtime.cgi", 503)
    with pytest.raises(IproBusyError, match="busy"):
        await client.get_hdd_info()
    nvr_sim.faults.fail_path("recordedtime.cgi", 500)
    with pytest.raises(IproProtocolError, match="HTTP 500"):
        await client.get_hdd_info()


async def test_closed_client_leaves_a_playing_playback_quietly(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    async with client.playback() as playback:
        await playback.mask([1])
        await playback.play()
        await client.close()
    # No STOP after close(): the UID is gone with the logout.
    assert [dict(q).get("PLAYCMD") for q in queries(nvr_sim, "hdrctl.cgi")] == [None, "PLAY"]


def test_session_repr_masks_the_uid() -> None:
    session = UidSession(role=SessionRole.LIVE, uid="1234567890123")
    assert repr(session) == "<UidSession live uid=***23 users=0>"
    assert mask_uid(None) == "<none>"


async def test_real_spacing_of_three_seconds(
    make_client: ClientMaker, nvr_sim: NvrSimulator
) -> None:
    client = make_client(pacer=Pacer())
    loop = asyncio.get_running_loop()
    start = loop.time()
    await client.login()
    # Camera control has its own 0.2 s lane: it does not wait for the 3 s one.
    await asyncio.gather(client.get_event_log(), client.ptz(1, pan=5), client.ptz(1))
    await client.close()
    elapsed = loop.time() - start
    assert 6.0 <= elapsed < 7.5
    nvr_sim.assert_paced(3.0, 0.2)
    control = [r.time for r in nvr_sim.requests if r.cgi == "directctrl.cgi"]
    login = next(r.time for r in nvr_sim.requests if r.cgi == "dlogin.cgi" and r.status == 200)
    assert control[0] - login < 1.0
    assert control[1] - control[0] >= 0.2 - 0.01


async def test_no_login_while_closing(client: IproClient, nvr_sim: NvrSimulator) -> None:
    await client.login()
    closing = asyncio.create_task(client.close())
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="closed"):
        async with client.playback():
            pass
    await closing
    assert nvr_sim.sessions.count == 0
    assert len(queries(nvr_sim, "dlogin.cgi")) == 1
