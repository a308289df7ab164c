"""The pacer spaces request starts per lane, fairly, and survives cancellation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
import itertools
import time

import pytest

from custom_components.ipro_nvr.aioipro.pacer import SENT_HISTORY, Lane, Pacer, SentCommand


def _gaps(sent: Iterable[SentCommand], lane: Lane) -> list[float]:
    times = [s.time for s in sent if s.lane is lane]
    return [b - a for a, b in itertools.pairwise(times)]


async def claim(pacer: Pacer, lane: Lane, path: str = "") -> float:
    async with pacer.slot(lane, path) as slot_time:
        return slot_time


async def test_first_request_is_immediate() -> None:
    pacer = Pacer(command_interval=10.0, control_interval=10.0)
    start = time.monotonic()
    async with pacer.slot(Lane.COMMAND, "/cgi-bin/status.cgi"):
        pass
    async with pacer.slot(Lane.CONTROL, "/cgi-bin/directctrl.cgi"):
        pass
    assert time.monotonic() - start < 0.5
    assert [(s.lane, s.path) for s in pacer.sent] == [
        (Lane.COMMAND, "/cgi-bin/status.cgi"),
        (Lane.CONTROL, "/cgi-bin/directctrl.cgi"),
    ]


async def test_command_lane_spacing() -> None:
    pacer = Pacer(command_interval=0.05, control_interval=0.01)
    await asyncio.gather(*(claim(pacer, Lane.COMMAND, f"/c{i}") for i in range(5)))
    gaps = _gaps(pacer.sent, Lane.COMMAND)
    assert len(gaps) == 4
    assert all(gap >= 0.05 for gap in gaps)


async def test_fifo_order() -> None:
    pacer = Pacer(command_interval=0.02, control_interval=0.01)
    order: list[int] = []

    async def one(i: int) -> None:
        async with pacer.slot(Lane.COMMAND, f"/c{i}"):
            order.append(i)

    tasks = []
    for i in range(6):
        tasks.append(asyncio.create_task(one(i)))
        await asyncio.sleep(0)
    await asyncio.gather(*tasks)
    assert order == list(range(6))
    assert [s.path for s in pacer.sent] == [f"/c{i}" for i in range(6)]


async def test_control_does_not_wait_behind_commands() -> None:
    pacer = Pacer(command_interval=0.5, control_interval=0.01)
    await claim(pacer, Lane.COMMAND)
    blocked = asyncio.create_task(claim(pacer, Lane.COMMAND, "/poll"))
    await asyncio.sleep(0)
    start = time.monotonic()
    for _ in range(3):
        async with pacer.slot(Lane.CONTROL, "/ptz"):
            pass
    assert time.monotonic() - start < 0.2
    assert not blocked.done()
    await blocked
    assert all(gap >= 0.01 for gap in _gaps(pacer.sent, Lane.CONTROL))


async def test_cancelled_waiter_gives_up_its_slot() -> None:
    pacer = Pacer(command_interval=0.1, control_interval=0.01)
    await claim(pacer, Lane.COMMAND, "/first")
    waiting = asyncio.create_task(claim(pacer, Lane.COMMAND, "/cancelled"))
    queued = asyncio.create_task(claim(pacer, Lane.COMMAND, "/second"))
    await asyncio.sleep(0.02)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    await queued
    assert [s.path for s in pacer.sent] == ["/first", "/second"]
    assert _gaps(pacer.sent, Lane.COMMAND)[0] >= 0.1


async def test_injected_clock_decides_the_wait() -> None:
    now = [100.0]
    pacer = Pacer(command_interval=3.0, control_interval=0.2, clock=lambda: now[0])
    assert await claim(pacer, Lane.COMMAND) == 100.0
    now[0] = 103.5
    assert await claim(pacer, Lane.COMMAND) == 103.5
    assert pacer.interval(Lane.CONTROL) == 0.2
    assert pacer.count == 2


async def test_history_is_bounded() -> None:
    pacer = Pacer(command_interval=0, control_interval=0)
    for i in range(SENT_HISTORY + 5):
        await claim(pacer, Lane.CONTROL, f"/c{i}")
    assert len(pacer.sent) == SENT_HISTORY
    assert pacer.sent[0].path == "/c5"
    assert pacer.count == SENT_HISTORY + 5


async def test_real_three_second_spacing() -> None:
    pacer = Pacer()
    start = time.monotonic()
    await asyncio.gather(claim(pacer, Lane.COMMAND), claim(pacer, Lane.COMMAND))
    assert time.monotonic() - start >= 3.0
    assert _gaps(pacer.sent, Lane.COMMAND)[0] >= 3.0


def test_negative_interval_rejected() -> None:
    with pytest.raises(ValueError):
        Pacer(command_interval=-1.0)


async def test_next_slot_counts_from_the_end_of_the_held_request() -> None:
    pacer = Pacer(command_interval=0.05, control_interval=0.01)
    loop = asyncio.get_running_loop()
    async with pacer.slot(Lane.COMMAND, "/slow"):
        await asyncio.sleep(0.1)
        ended = loop.time()
    async with pacer.slot(Lane.COMMAND, "/next"):
        started = loop.time()
    assert started - ended >= 0.05


async def test_request_cancelled_in_flight_still_counts() -> None:
    pacer = Pacer(command_interval=0.05, control_interval=0.01)

    async def slow() -> None:
        async with pacer.slot(Lane.COMMAND, "/slow"):
            await asyncio.sleep(10)

    task = asyncio.create_task(slow())
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    loop = asyncio.get_running_loop()
    cancelled_at = loop.time()
    await claim(pacer, Lane.COMMAND, "/after")
    assert loop.time() - cancelled_at >= 0.045
    assert [s.path for s in pacer.sent] == ["/slow", "/after"]
