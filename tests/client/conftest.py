"""Client fixtures on the simulator: short pacing, and a pacing check after every test.

Every client a test makes through ``make_client`` shares one pacer (one per NVR, as in
production) with short intervals. When the test ends its clients are closed and the
simulator's request log must show the spacing: ``assert_paced`` runs in the teardown of
``make_client``, so no simulator test can forget it.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from custom_components.ipro_nvr.aioipro.client import IproClient
from custom_components.ipro_nvr.aioipro.pacer import Pacer
from ipro_sim import NvrSimulator, RequestRecord

COMMAND_INTERVAL = 0.05
CONTROL_INTERVAL = 0.01


@dataclass
class ClientMaker:
    """Makes clients of the simulator; all share ``pacer`` unless given another."""

    sim: NvrSimulator
    session: aiohttp.ClientSession
    pacer: Pacer
    clients: list[IproClient] = field(default_factory=list)

    def __call__(self, **kwargs: Any) -> IproClient:
        options: dict[str, Any] = {
            "username": self.sim.config.username,
            "password": self.sim.config.password,
            "ssl": self.sim.config.ssl,
            "pacer": self.pacer,
            "request_timeout": 5.0,
        }
        options.update(kwargs)
        client = IproClient(self.session, self.sim.host, self.sim.port, **options)
        self.clients.append(client)
        return client


@pytest.fixture
async def http_session(socket_enabled: None) -> AsyncGenerator[aiohttp.ClientSession]:
    """The caller-owned HTTP session the clients use."""
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def pacer() -> Pacer:
    """The short-interval pacer of the simulated NVR."""
    return Pacer(command_interval=COMMAND_INTERVAL, control_interval=CONTROL_INTERVAL)


@pytest.fixture
async def make_client(
    nvr_sim: NvrSimulator, http_session: aiohttp.ClientSession, pacer: Pacer
) -> AsyncGenerator[ClientMaker]:
    """Client factory; closes the clients, then asserts the simulator saw paced requests."""
    maker = ClientMaker(nvr_sim, http_session, pacer)
    yield maker
    for client in maker.clients:
        await client.close()
    nvr_sim.assert_paced(pacer.command_interval, pacer.control_interval)


@pytest.fixture
async def client(make_client: ClientMaker) -> IproClient:
    """A client of the simulator with the shared short-interval pacer."""
    return make_client()


def queries(sim: NvrSimulator, cgi: str) -> list[list[tuple[str, str]]]:
    """Return the ordered query pairs of every authenticated request to ``cgi``."""
    return [r.query for r in requests_to(sim, cgi)]


def requests_to(sim: NvrSimulator, cgi: str) -> list[RequestRecord]:
    """Return the requests to ``cgi`` that passed authentication."""
    return [r for r in sim.requests if r.cgi == cgi and r.status != 401]
