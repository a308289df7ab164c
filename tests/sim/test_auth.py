"""HTTP authentication: Digest (MD5, SHA-256, qop=auth), Basic, and the knobs around it."""

from __future__ import annotations

import base64
import hashlib
import re

import aiohttp
import pytest

from ipro_sim import NvrSimulator, SimulatorConfig

from .helpers import client_session, get_text, login, url

RECORDED = "/cgi-bin/recordedtime.cgi"


def digest_header(
    challenge: str,
    uri: str,
    *,
    user: str = "ADMIN",
    password: str = "12345",
    method: str = "GET",
    algorithm: str | None = None,
) -> str:
    """An Authorization header answering ``challenge``, computed by hand (RFC 7616)."""
    fields = dict(re.findall(r'(\w+)="?([^",]+)"?', challenge))
    algorithm = algorithm or fields.get("algorithm", "MD5")

    def digest(text: str) -> str:
        name = "sha256" if algorithm == "SHA-256" else "md5"
        return hashlib.new(name, text.encode()).hexdigest()

    ha1 = digest(f"{user}:{fields['realm']}:{password}")
    ha2 = digest(f"{method}:{uri}")
    response = digest(f"{ha1}:{fields['nonce']}:00000001:abcdef:auth:{ha2}")
    return (
        f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", '
        f'uri="{uri}", algorithm={algorithm}, response="{response}", '
        f'opaque="{fields["opaque"]}", qop=auth, nc=00000001, cnonce="abcdef"'
    )


async def challenge(session: aiohttp.ClientSession, sim: NvrSimulator) -> list[str]:
    async with session.get(sim.url + RECORDED) as response:
        assert response.status == 401
        return response.headers.getall("WWW-Authenticate")


async def test_digest_md5_challenge_and_login(nvr_sim: NvrSimulator) -> None:
    async with aiohttp.ClientSession() as plain:
        (header,) = await challenge(plain, nvr_sim)
    assert header.startswith('Digest realm="Network disk recorder", qop="auth", algorithm=MD5')
    assert "nonce=" in header
    async with client_session(nvr_sim) as session:
        assert re.fullmatch(r"\d{19}", await login(session, nvr_sim))
    statuses = [record.status for record in nvr_sim.requests]
    assert statuses == [401, 401, 200]


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_digest_by_hand(algorithm: str) -> None:
    config = SimulatorConfig(digest_algorithms=("SHA-256", "MD5"))
    async with NvrSimulator(config) as sim, aiohttp.ClientSession() as session:
        offered = await challenge(session, sim)
        assert [h.split("algorithm=")[1].split(",")[0] for h in offered] == ["SHA-256", "MD5"]
        picked = next(h for h in offered if f"algorithm={algorithm}," in h)
        headers = {"Authorization": digest_header(picked, RECORDED, algorithm=algorithm)}
        async with session.get(sim.url + RECORDED, headers=headers) as response:
            assert response.status == 200
        bad = digest_header(picked, RECORDED, algorithm=algorithm, password="nope")
        async with session.get(sim.url + RECORDED, headers={"Authorization": bad}) as response:
            assert response.status == 401
            assert "stale" not in response.headers["WWW-Authenticate"]


async def test_digest_sha256_with_aiohttp() -> None:
    config = SimulatorConfig(digest_algorithms=("SHA-256",))
    async with NvrSimulator(config) as sim, client_session(sim) as session:
        assert await login(session, sim)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: h.replace(f'uri="{RECORDED}"', 'uri="/cgi-bin/other.cgi"'),
        lambda h: h.replace("qop=auth", "qop=auth-int"),
        lambda h: h.replace('username="ADMIN"', 'username="admin"'),
        lambda h: h.replace("algorithm=MD5", "algorithm=SHA-512"),
        lambda h: h.replace(', cnonce="abcdef"', ""),
        lambda h: h.replace("Digest ", "Bearer "),
        lambda h: h.replace('realm="Network disk recorder"', 'realm="x"'),
    ],
)
async def test_digest_rejects_tampered(nvr_sim: NvrSimulator, tamper: object) -> None:
    async with aiohttp.ClientSession() as session:
        (offered,) = await challenge(session, nvr_sim)
        header = tamper(digest_header(offered, RECORDED))  # type: ignore[operator]
        async with session.get(nvr_sim.url + RECORDED, headers={"Authorization": header}) as r:
            assert r.status == 401


async def test_stale_nonce_after_reboot_gets_stale_true(nvr_sim: NvrSimulator) -> None:
    async with aiohttp.ClientSession() as session:
        (offered,) = await challenge(session, nvr_sim)
        header = digest_header(offered, RECORDED)
        nvr_sim.auth.rotate()
        async with session.get(nvr_sim.url + RECORDED, headers={"Authorization": header}) as r:
            assert r.status == 401
            assert r.headers["WWW-Authenticate"].endswith("stale=true")


async def test_nonce_expires(nvr_sim: NvrSimulator) -> None:
    nvr_sim.auth.nonce_lifetime = 0.0
    async with aiohttp.ClientSession() as session:
        (offered,) = await challenge(session, nvr_sim)
        header = digest_header(offered, RECORDED)
        async with session.get(nvr_sim.url + RECORDED, headers={"Authorization": header}) as r:
            assert r.status == 401
            assert "stale=true" in r.headers["WWW-Authenticate"]
        garbled = digest_header(offered.replace('nonce="', 'nonce="!!'), RECORDED)
        async with session.get(nvr_sim.url + RECORDED, headers={"Authorization": garbled}) as r:
            assert r.status == 401
            assert "stale=true" in r.headers["WWW-Authenticate"]


async def test_basic() -> None:
    async with NvrSimulator(SimulatorConfig(auth="basic")) as sim:
        async with aiohttp.ClientSession() as session:
            assert await challenge(session, sim) == ['Basic realm="Network disk recorder"']
            for token, status in (
                (base64.b64encode(b"ADMIN:12345").decode(), 200),
                (base64.b64encode(b"ADMIN:wrong").decode(), 401),
                ("***", 401),
                (base64.b64encode(b"\xff\xfe").decode(), 401),
            ):
                headers = {"Authorization": f"Basic {token}"}
                async with session.get(sim.url + RECORDED, headers=headers) as response:
                    assert response.status == status
        async with client_session(sim) as session:
            assert await login(session, sim)


async def test_wrong_password(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim, password="wrong") as session:
        status, _ = await get_text(session, nvr_sim, "dlogin.cgi", ("UID", "-1"))
    assert status == 401


async def test_reject_credentials_fault(nvr_sim: NvrSimulator) -> None:
    nvr_sim.faults.reject_credentials = True
    async with client_session(nvr_sim) as session:
        status, _ = await get_text(session, nvr_sim, "dlogin.cgi", ("UID", "-1"))
        assert status == 401
        nvr_sim.faults.reset()
        assert await login(session, nvr_sim)


async def test_every_request_needs_auth_by_default(nvr_sim: NvrSimulator) -> None:
    async with client_session(nvr_sim) as session:
        uid = await login(session, nvr_sim)
    async with aiohttp.ClientSession() as plain:
        status, _ = await get_text(plain, nvr_sim, "status.cgi", ("UID", uid), ("PC", "AS60"))
    assert status == 401


async def test_uid_skips_auth_knob() -> None:
    async with NvrSimulator(SimulatorConfig(uid_skips_auth=True)) as sim:
        async with client_session(sim) as session:
            uid = await login(session, sim)
        async with aiohttp.ClientSession() as plain:
            status, _ = await get_text(plain, sim, "status.cgi", ("UID", uid), ("PC", "AS60"))
            assert status == 200
            status, _ = await get_text(plain, sim, "status.cgi", ("UID", "1"), ("PC", "AS60"))
            assert status == 401
            async with plain.get(url(sim, "recordedtime.cgi")) as response:
                assert response.status == 401
