"""IproAuth answers Digest (MD5, SHA-256, stale nonces) and Basic challenges.

These tests run a small aiohttp server on loopback that checks the answers the way an
RFC 7616 server does, to reach cases the simulator has no knob for (stale nonces, a
device switching scheme). The simulator tests in test_client_auth.py cover the rest.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
import hashlib
import re
import secrets

import aiohttp
from aiohttp import web
import pytest

from custom_components.ipro_nvr.aioipro.auth import IproAuth, challenge_scheme

USER = "ADMIN"
PASSWORD = "12345"
REALM = "Network disk recorder"


@dataclass
class AuthServer:
    """Loopback server whose scheme and nonce policy the test sets."""

    scheme: str = "digest"
    algorithm: str = "MD5"
    stale_after: int | None = None
    nonces: list[str] = field(default_factory=list)
    seen: list[str | None] = field(default_factory=list)
    nc_seen: list[int] = field(default_factory=list)
    uses: int = 0

    def challenge(self, *, stale: bool = False) -> str:
        if self.scheme == "basic":
            return f'Basic realm="{REALM}"'
        nonce = secrets.token_hex(8)
        self.nonces.append(nonce)
        self.uses = 0
        extra = ", stale=true" if stale else ""
        return (
            f'Digest realm="{REALM}", qop="auth", nonce="{nonce}", '
            f'algorithm={self.algorithm}, opaque="abc"{extra}'
        )

    def check_digest(self, header: str, method: str, uri: str) -> bool | str:
        fields = {k: v or w for k, v, w in re.findall(r'(\w+)=(?:"([^"]*)"|([^\s,]+))', header)}
        if fields.get("nonce") not in self.nonces[-1:]:
            return "stale"
        hash_fn: Callable[[bytes], hashlib._Hash] = (
            hashlib.sha256 if self.algorithm == "SHA-256" else hashlib.md5
        )

        def h(text: str) -> str:
            return hash_fn(text.encode()).hexdigest()

        ha1 = h(f"{USER}:{REALM}:{PASSWORD}")
        ha2 = h(f"{method}:{uri}")
        expected = h(
            f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:{fields['qop']}:{ha2}"
        )
        self.nc_seen.append(int(fields["nc"], 16))
        if fields["uri"] != uri or fields["response"] != expected:
            return False
        self.uses += 1
        if self.stale_after is not None and self.uses > self.stale_after:
            return "stale"
        return True

    async def handle(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization")
        self.seen.append(header)
        ok: bool | str = False
        if header and self.scheme == "basic" and header.startswith("Basic "):
            ok = base64.b64decode(header[6:]).decode() == f"{USER}:{PASSWORD}"
        elif header and self.scheme == "digest" and header.startswith("Digest "):
            ok = self.check_digest(header, request.method, request.raw_path)
        if ok is True:
            return web.Response(text="OK")
        return web.Response(
            status=401,
            headers={"WWW-Authenticate": self.challenge(stale=ok == "stale")},
        )


async def bare_401(request: web.Request) -> web.Response:
    return web.Response(status=401)


@pytest.fixture
async def auth_server(socket_enabled: None) -> AsyncIterator[tuple[AuthServer, str]]:
    server = AuthServer()
    app = web.Application()
    app.router.add_get("/cgi-bin/{name}", server.handle)
    app.router.add_get("/bare401", bare_401)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield server, f"http://127.0.0.1:{port}"
    await runner.cleanup()


async def _get(session: aiohttp.ClientSession, auth: IproAuth, url: str) -> int:
    async with session.get(url, middlewares=(auth,)) as response:
        await response.read()
        return response.status


@pytest.mark.parametrize("algorithm", ["MD5", "SHA-256"])
async def test_digest_then_preemptive_reuse(
    auth_server: tuple[AuthServer, str], algorithm: str
) -> None:
    server, base = auth_server
    server.algorithm = algorithm
    auth = IproAuth(USER, PASSWORD)
    async with aiohttp.ClientSession() as session:
        for query in ("UID=-1", "UID=1&PC=AS60", "UID=1&CTRL=FAR&CTRL=START"):
            assert await _get(session, auth, f"{base}/cgi-bin/x.cgi?{query}") == 200
    # One challenge, then every request carries credentials; nc counts up.
    assert server.seen[0] is None
    assert all(h is not None and h.startswith("Digest ") for h in server.seen[1:])
    assert len(server.seen) == 4
    assert server.nc_seen == [1, 2, 3]


async def test_digest_stale_nonce_is_renewed(auth_server: tuple[AuthServer, str]) -> None:
    server, base = auth_server
    server.stale_after = 1
    auth = IproAuth(USER, PASSWORD)
    async with aiohttp.ClientSession() as session:
        assert await _get(session, auth, f"{base}/cgi-bin/a.cgi") == 200
        assert await _get(session, auth, f"{base}/cgi-bin/b.cgi") == 200
    assert len(server.nonces) == 2
    assert server.nc_seen[-1] == 1


async def test_digest_wrong_password_returns_401(auth_server: tuple[AuthServer, str]) -> None:
    server, base = auth_server
    auth = IproAuth(USER, "wrong")
    async with aiohttp.ClientSession() as session:
        assert await _get(session, auth, f"{base}/cgi-bin/a.cgi") == 401
    assert len(server.seen) == 2


async def test_basic_challenge_answered_then_preemptive(
    auth_server: tuple[AuthServer, str],
) -> None:
    server, base = auth_server
    server.scheme = "basic"
    auth = IproAuth(USER, PASSWORD)
    async with aiohttp.ClientSession() as session:
        assert await _get(session, auth, f"{base}/cgi-bin/a.cgi") == 200
        assert await _get(session, auth, f"{base}/cgi-bin/b.cgi") == 200
    assert server.seen[0] is None
    assert server.seen[1:] == [server.seen[1]] * 2
    assert server.seen[1] is not None
    assert server.seen[1].startswith("Basic ")


async def test_basic_wrong_password(auth_server: tuple[AuthServer, str]) -> None:
    server, base = auth_server
    server.scheme = "basic"
    auth = IproAuth(USER, "nope")
    async with aiohttp.ClientSession() as session:
        assert await _get(session, auth, f"{base}/cgi-bin/a.cgi") == 401
        # Basic is now sent preemptively; the refusal is still a 401.
        assert await _get(session, auth, f"{base}/cgi-bin/a.cgi") == 401


async def test_device_switching_from_basic_to_digest(
    auth_server: tuple[AuthServer, str],
) -> None:
    server, base = auth_server
    server.scheme = "basic"
    auth = IproAuth(USER, PASSWORD)
    async with aiohttp.ClientSession() as session:
        assert await _get(session, auth, f"{base}/cgi-bin/a.cgi") == 200
        server.scheme = "digest"
        assert await _get(session, auth, f"{base}/cgi-bin/b.cgi") == 200
        assert await _get(session, auth, f"{base}/cgi-bin/c.cgi") == 200
    assert server.seen[-1] is not None
    assert server.seen[-1].startswith("Digest ")


async def test_challenge_scheme_of_plain_responses(
    auth_server: tuple[AuthServer, str],
) -> None:
    _, base = auth_server
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/cgi-bin/a.cgi") as response:
            assert challenge_scheme(response) == "digest"
        async with session.get(f"{base}/missing") as response:
            assert challenge_scheme(response) is None
        async with session.get(f"{base}/bare401") as response:
            assert response.status == 401
            assert challenge_scheme(response) is None


def test_colon_in_user_name_rejected() -> None:
    with pytest.raises(ValueError):
        IproAuth("a:b", "x")
