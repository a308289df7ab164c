"""Priority requests (the polls) go before waiting ordinary ones in their lane.

A dashboard opening 16 cameras queues a stream START each in the 3 s command lane; the
event-log poll must not wait behind all of them (benchmarks/bench_event_latency.py).
"""

from __future__ import annotations

import asyncio
import itertools

import pytest

from custom_components.ipro_nvr.aioipro import commands
from custom_components.ipro_nvr.aioipro.models import VideoCodec
from custom_components.ipro_nvr.aioipro.pacer import Lane, Pacer


async def _queue(pacer: Pacer, order: list[str], name: str, *, priority: bool = False) -> None:
    async with pacer.slot(Lane.COMMAND, name, priority=priority):
        order.append(name)


async def _start_all(
    pacer: Pacer, order: list[str], names: list[tuple[str, bool]]
) -> list[asyncio.Task[None]]:
    """Queue the requests in this order, each after the previous one is waiting."""
    tasks = []
    for name, priority in names:
        tasks.append(asyncio.create_task(_queue(pacer, order, name, priority=priority)))
        await asyncio.sleep(0)
    return tasks


async def test_priority_goes_before_waiting_ordinary_requests() -> None:
    pacer = Pacer(command_interval=0.02, control_interval=0.01)
    order: list[str] = []
    async with pacer.slot(Lane.COMMAND, "holder"):
        tasks = await _start_all(
            pacer,
            order,
            [("start1", False), ("start2", False), ("poll1", True), ("poll2", True)],
        )
    await asyncio.gather(*tasks)
    # The polls came while the starts waited: they go first, each kind in its order.
    assert order == ["poll1", "poll2", "start1", "start2"]
    assert [s.path for s in pacer.sent] == ["holder", *order]
    times = [s.time for s in pacer.sent]
    assert all(b - a >= 0.02 for a, b in itertools.pairwise(times))


async def test_priority_does_not_preempt_the_holder_nor_other_lanes() -> None:
    pacer = Pacer(command_interval=0.2, control_interval=0.01)
    order: list[str] = []
    async with pacer.slot(Lane.COMMAND, "holder"):
        poll = asyncio.create_task(_queue(pacer, order, "poll", priority=True))
        await asyncio.sleep(0.01)
        assert order == []
        async with pacer.slot(Lane.CONTROL, "ptz"):
            order.append("ptz")
    await poll
    assert order == ["ptz", "poll"]


async def test_cancelled_priority_waiter_gives_up_its_place() -> None:
    pacer = Pacer(command_interval=0.05, control_interval=0.01)
    order: list[str] = []
    async with pacer.slot(Lane.COMMAND, "holder"):
        tasks = await _start_all(pacer, order, [("poll", True), ("next", False)])
        tasks[0].cancel()
        with pytest.raises(asyncio.CancelledError):
            await tasks[0]
    await tasks[1]
    assert order == ["next"]
    assert [s.path for s in pacer.sent] == ["holder", "next"]


async def test_waiter_cancelled_as_it_is_handed_the_lane_passes_it_on() -> None:
    pacer = Pacer(command_interval=0, control_interval=0)
    order: list[str] = []
    holder_done = asyncio.Event()

    async def holder() -> None:
        async with pacer.slot(Lane.COMMAND, "holder"):
            await holder_done.wait()

    held = asyncio.create_task(holder())
    await asyncio.sleep(0)
    tasks = await _start_all(pacer, order, [("poll", True), ("next", False)])
    holder_done.set()
    await asyncio.sleep(0)  # the holder releases: "poll" is handed the lane ...
    tasks[0].cancel()  # ... and cancelled before it runs
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    await asyncio.wait_for(asyncio.gather(held, tasks[1]), 1)
    assert order == ["next"]


def test_the_polls_are_priority_commands_and_stream_control_is_not() -> None:
    polls = [
        commands.event_log(),
        commands.error_log(),
        commands.camera_connection(),
        commands.recorded_time(),
    ]
    assert all(command.priority for command in polls)
    others = [
        commands.login(),
        commands.keep_alive(),
        commands.push_http(1, True, VideoCodec.H264),
        commands.push_http(1, False, VideoCodec.H264),
    ]
    assert not any(command.priority for command in others)


async def test_a_poll_arriving_while_the_next_start_waits_for_its_slot_goes_first() -> None:
    pacer = Pacer(command_interval=0.1, control_interval=0.01)
    order: list[str] = []
    async with pacer.slot(Lane.COMMAND, "holder"):
        start = asyncio.create_task(_queue(pacer, order, "start"))
        await asyncio.sleep(0)
    # Released: "start" waits for the next slot; the lane is not handed to it yet.
    await asyncio.sleep(0.02)
    poll = asyncio.create_task(_queue(pacer, order, "poll", priority=True))
    await asyncio.gather(start, poll)
    assert order == ["poll", "start"]
    times = [s.time for s in pacer.sent]
    assert all(b - a >= 0.1 for a, b in itertools.pairwise(times))


async def test_a_request_waiting_for_a_closed_slot_does_not_hold_the_lane() -> None:
    pacer = Pacer(command_interval=0.1, control_interval=0.01)
    order: list[str] = []
    await _queue(pacer, order, "first")
    tasks = await _start_all(pacer, order, [("start", False)])
    await asyncio.sleep(0.02)
    tasks += await _start_all(pacer, order, [("poll", True)])
    await asyncio.gather(*tasks)
    assert order == ["first", "poll", "start"]


async def test_the_last_waiter_cancelled_before_its_slot_leaves_the_lane_free() -> None:
    pacer = Pacer(command_interval=0.1, control_interval=0.01)
    order: list[str] = []
    await _queue(pacer, order, "first")
    tasks = await _start_all(pacer, order, [("cancelled", False)])
    tasks[0].cancel()
    with pytest.raises(asyncio.CancelledError):
        await tasks[0]
    await asyncio.sleep(0.12)
    loop = asyncio.get_running_loop()
    start = loop.time()
    await _queue(pacer, order, "later")
    assert loop.time() - start < 0.05
    assert order == ["first", "later"]


async def test_a_slower_injected_clock_still_decides_the_spacing() -> None:
    loop = asyncio.get_running_loop()
    pacer = Pacer(command_interval=0.05, control_interval=0.01, clock=lambda: loop.time() / 2)
    order: list[str] = []
    await _queue(pacer, order, "first")
    await _queue(pacer, order, "second")
    times = [s.time for s in pacer.sent]
    assert times[1] - times[0] >= 0.05


async def test_ordinary_requests_get_a_slot_after_two_polls_while_polls_keep_coming() -> None:
    """Opening a recording (login, MASK, GOTODATE) while the polls take every slot they can.

    When polls always went first, each ordinary request waited for the polls to leave a
    slot free: 48 s for a recording to start in the demo.
    """
    pacer = Pacer(command_interval=0.01, control_interval=0.01)
    order: list[str] = []
    stop = asyncio.Event()

    async def poller(name: str) -> None:
        # Two pollers, so that a poll always waits whenever a slot opens.
        while not stop.is_set():
            await _queue(pacer, order, name, priority=True)

    async def playback() -> None:
        for name in ("login", "mask", "gotodate"):
            await _queue(pacer, order, name)
        stop.set()

    async with asyncio.timeout(5):
        await asyncio.gather(poller("poll-a"), poller("poll-b"), playback())
    ordinary = [n for n, name in enumerate(order) if not name.startswith("poll")]
    assert [order[n] for n in ordinary] == ["login", "mask", "gotodate"]
    # Each one waited for two polls at most, and did wait for two: a refresh's pair of
    # polls goes through unbroken.
    assert all(b - a == 3 for a, b in itertools.pairwise([-1, *ordinary]))
