"""Security: no secret in logs or diagnostics, loopback-only token-guarded restream,
authenticated views, device file names kept in their folder, TLS verification honoured.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncGenerator
from datetime import UTC, datetime, timedelta
import hashlib
from http import HTTPStatus
import logging
from pathlib import Path
import sys
from typing import Any

import aiohttp
from homeassistant.components.camera import async_get_stream_source
from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SSL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.errors import IproConnectionError, IproProtocolError
from custom_components.ipro_nvr.aioipro.models import DownloadKind
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from custom_components.ipro_nvr.camera import live_media
from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.views import async_sign, clip_path, playback_path
from ipro_sim import NvrSimulator, SimulatorConfig
from ipro_sim.state import Session
from tests.conftest import ENTRY_ID

from .conftest import COMMAND_INTERVAL, CONTROL_INTERVAL, until

PASSWORD = "Zq7-secret-Pw"


def minutes_ago(minutes: float) -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=minutes)


@pytest.fixture
def issued_uids(nvr_sim: NvrSimulator, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Return the list every UID the simulator issues from now on is added to."""
    issued: list[str] = []
    sim = nvr_sim
    issue = sim.sessions.issue

    def recording_issue() -> tuple[Session, Session | None]:
        session, evicted = issue()
        issued.append(session.uid)
        return session, evicted

    monkeypatch.setattr(sim.sessions, "issue", recording_issue)
    return issued


def secrets_of(sim: NvrSimulator, issued: list[str]) -> dict[str, str]:
    """Every form the credentials take on the wire, and every UID the NVR issued."""
    user, realm = sim.config.username, sim.config.realm
    found = {
        "password": PASSWORD,
        "digest HA1 (MD5)": hashlib.md5(f"{user}:{realm}:{PASSWORD}".encode()).hexdigest(),
        "digest HA1 (SHA-256)": hashlib.sha256(f"{user}:{realm}:{PASSWORD}".encode()).hexdigest(),
        "digest HA1 input": f"{realm}:{PASSWORD}",
        "basic credentials": base64.b64encode(f"{user}:{PASSWORD}".encode()).decode(),
    }
    uids = {r.uid for r in sim.requests if r.uid and r.uid != "-1"} | set(issued)
    found |= {f"UID {uid}": uid for uid in uids}
    return found


@pytest.fixture
def sim_config() -> SimulatorConfig:
    """A password that cannot turn up in a log by chance."""
    return SimulatorConfig(seed=1, password=PASSWORD)


def camera_1(hass: HomeAssistant) -> str:
    entity_id = er.async_get(hass).async_get_entity_id(
        "camera", DOMAIN, f"{ENTRY_ID}_camera_1_camera"
    )
    assert entity_id is not None
    return entity_id


async def read_some(url: str, size: int) -> None:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        received = 0
        async for chunk in response.content.iter_any():
            received += len(chunk)
            if received >= size:
                return


async def test_no_secret_in_logs_or_diagnostics(
    hass: HomeAssistant,
    *,
    issued_uids: list[str],
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    assert await async_setup_component(hass, "diagnostics", {})
    # Polls, a lost UID and its new login, a live stream, a download and a refused command.
    logins = sum(1 for r in nvr_sim.requests if r.cgi == "dlogin.cgi")
    nvr_sim.invalidate_uids()
    await until(lambda: sum(1 for r in nvr_sim.requests if r.cgi == "dlogin.cgi") > logins)
    url = await async_get_stream_source(hass, camera_1(hass))
    assert url is not None
    await asyncio.wait_for(read_some(url, 50_000), 15)
    start = minutes_ago(120)
    client = await hass_client()
    response = await client.get(
        clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1))
    )
    assert response.status == HTTPStatus.OK
    assert (await response.read())[4:8] == b"ftyp"
    nvr_sim.faults.fail_path("loglist.cgi", 500)
    await until(lambda: "Error fetching" in caplog.text)
    nvr_sim.faults.reset()
    diagnostics = str(await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry))

    secrets = secrets_of(nvr_sim, issued_uids)
    assert len(issued_uids) >= 3  # control after the loss, live, download
    media = live_media(hass, loaded_entry)
    assert media is not None
    token = url.rsplit("/", 2)[1]
    secrets["restream token"] = token
    logged = caplog.text
    assert [name for name, value in secrets.items() if value in logged] == []
    assert [name for name, value in secrets.items() if value in diagnostics] == []


def _listening_address(port: int) -> str:
    """Return the local address the TCP socket listening on ``port`` is bound to."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].rsplit(":", 1)
            if int(hex_port, 16) == port and fields[3] == "0A":  # LISTEN
                return address
    raise AssertionError(f"nothing listens on port {port}")


async def test_restream_is_loopback_only_and_needs_its_token(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    url = await async_get_stream_source(hass, camera_1(hass))
    assert url is not None
    media = live_media(hass, loaded_entry)
    assert media is not None
    port = media.restreamer.port
    assert url.startswith(f"http://127.0.0.1:{port}/")
    assert _listening_address(port) == "0100007F"  # 127.0.0.1, not 0.0.0.0
    token = url.rsplit("/", 2)[1]
    assert len(token) >= 40
    async with aiohttp.ClientSession() as session:
        for path in (
            "/1.ts",
            f"/{token[:-1]}x/1.ts",
            f"/{token.upper()}/1.ts",
            "/../1.ts",
            f"/{token}/99.ts",
        ):
            async with session.get(f"http://127.0.0.1:{port}{path}") as response:
                assert response.status == HTTPStatus.NOT_FOUND, path
        async with session.get(url) as response:
            assert response.status == HTTPStatus.OK
            assert await response.content.readexactly(188)


async def test_media_views_need_home_assistant_auth(
    hass: HomeAssistant,
    hass_client_no_auth: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
    nvr_sim: NvrSimulator,
) -> None:
    start = minutes_ago(120)
    paths = [
        clip_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1)),
        playback_path(loaded_entry.entry_id, 1, start),
        playback_path(loaded_entry.entry_id, 1, start, start + timedelta(minutes=1)),
    ]
    client = await hass_client_no_auth()
    for path in paths:
        assert (await client.get(path)).status == HTTPStatus.UNAUTHORIZED, path
        signed = async_sign(hass, path)
        tampered = signed.replace("/1/", "/2/", 1)
        assert (await client.get(tampered)).status == HTTPStatus.UNAUTHORIZED, tampered
        headers = {"Authorization": "Bearer not-a-token"}
        assert (await client.get(path, headers=headers)).status == HTTPStatus.UNAUTHORIZED
    # Nothing reached the NVR for any of them.
    assert not [r for r in nvr_sim.requests if r.cgi in ("httpdl.cgi", "camera.cgi")]


@pytest.fixture
async def http_session(socket_enabled: None) -> AsyncGenerator[aiohttp.ClientSession]:
    """A plain HTTP session for clients made by hand."""
    async with aiohttp.ClientSession() as session:
        yield session


def hand_client(session: aiohttp.ClientSession, host: str, port: int, **options: Any) -> IproClient:
    return IproClient(
        session,
        host,
        port,
        username="ADMIN",
        password=PASSWORD,
        pacer=Pacer(command_interval=COMMAND_INTERVAL, control_interval=CONTROL_INTERVAL),
        request_timeout=5.0,
        **options,
    )


def names_in(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


@pytest.mark.parametrize(
    "hostile",
    [
        "../../../escaped",
        "/etc/escaped",
        "..\\..\\escaped",
        "C:\\Windows\\escaped",
        "sub/dir/../../escaped",
        "..",
        ".hidden",
        "nul\x00byte",
        "e" * 400,
    ],
)
async def test_device_file_names_stay_in_the_folder(
    nvr_sim: NvrSimulator, http_session: aiohttp.ClientSession, tmp_path: Path, hostile: str
) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    nvr_sim.faults.download_file_name = hostile
    client = hand_client(http_session, nvr_sim.host, nvr_sim.port)
    try:
        files = await client.download(1, minutes_ago(20), minutes_ago(18), DownloadKind.MP4, folder)
    except IproProtocolError:
        files = []  # a name with nothing usable left is refused
    finally:
        await client.close()
    assert all(file.path.parent == folder for file in files)
    assert names_in(tmp_path) == ["clips", *(f"clips/{file.path.name}" for file in files)]


@pytest.fixture
async def tls_nvr(socket_enabled: None) -> AsyncGenerator[tuple[str, int]]:
    """An HTTPS simulator with a self-signed certificate, in its own process.

    A client that rejects the certificate aborts the handshake, which the server's event
    loop reports as an error; in another process that report cannot fail the test.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ipro_sim",
        "--port",
        "0",
        "--ssl",
        "--registered",
        "1",
        "--password",
        PASSWORD,
        stderr=asyncio.subprocess.PIPE,
        cwd=Path(__file__).parents[2],
    )
    assert process.stderr is not None
    try:
        async with asyncio.timeout(60):
            while b"simulator on https://" not in (line := await process.stderr.readline()):
                assert line, "the simulator did not start"
        host, port = line.decode().strip().rsplit("https://", 1)[1].rsplit(":", 1)
        yield host, int(port)
    finally:
        process.kill()
        await process.wait()


async def test_tls_verification_is_honoured(
    tls_nvr: tuple[str, int], http_session: aiohttp.ClientSession
) -> None:
    verifying = hand_client(http_session, *tls_nvr, ssl=True, verify_ssl=True)
    with pytest.raises(IproConnectionError, match=r"certificate .* could not be verified"):
        await verifying.login()
    await verifying.close()
    trusting = hand_client(http_session, *tls_nvr, ssl=True, verify_ssl=False)
    assert (await trusting.login()).model == "WJ-NX400"
    await trusting.close()


async def test_tls_verification_in_the_config_flow(
    hass: HomeAssistant, tls_nvr: tuple[str, int]
) -> None:
    host, port = tls_nvr
    data = {
        CONF_HOST: host,
        CONF_PORT: port,
        CONF_SSL: True,
        CONF_VERIFY_SSL: True,
        CONF_USERNAME: "ADMIN",
        CONF_PASSWORD: PASSWORD,
    }
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"], data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {**data, CONF_VERIFY_SSL: False}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"][CONF_VERIFY_SSL] is False
