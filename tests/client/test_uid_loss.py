"""A UID found lost: the requests queued with it give their places in the 3 s lane up.

At the real pacing every request waiting in the command lane costs everyone behind it
3 s, so a request whose UID the session has found lost in the meantime is not sent: its
answer (a login page) is known, and the login it needs would only come later.
"""

from __future__ import annotations

import asyncio

from custom_components.ipro_nvr.aioipro.client import IproClient
from ipro_sim import NvrSimulator

from .conftest import requests_to


async def test_the_check_of_an_error_status_is_not_sent_for_a_uid_found_lost(
    client: IproClient, nvr_sim: NvrSimulator
) -> None:
    await client.login()
    nvr_sim.invalidate_uids()
    nvr_sim.faults.fail_next(1, 500)
    # The first poll gets the 500 and queues a keep-alive to tell a refusal from a lost
    # UID; the second, already queued, gets the login page first: the check is moot.
    events, errors = await asyncio.gather(client.get_event_log(), client.get_error_log())
    assert events.entries
    assert errors.log.value == "error"
    assert requests_to(nvr_sim, "status.cgi") == []
    assert len(requests_to(nvr_sim, "dlogin.cgi")) == 2  # the first login, and one more
    statuses = [r.status for r in requests_to(nvr_sim, "loglist.cgi")]
    assert statuses == [500, 200, 200, 200]
