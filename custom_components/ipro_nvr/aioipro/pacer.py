"""Request pacing: one pacer per NVR spaces the requests it receives, per lane.

The spec asks for at least 3 s between commands and about 0.2 s between camera-control
commands. Camera control has its own lane so a PTZ press never queues behind a slow
poll. Each lane is a queue served in arrival order, except that a ``priority`` request
goes before every waiting ordinary one: the integration's polls (one or two a refresh)
must not wait behind a burst of stream STARTs and STOPs - a dashboard of 16 cameras
queued about 18 commands, 54 s, in front of the event log.

What must be spaced is what the NVR sees. A request can reach it later than it was let
through: a new connection, the HTTP Digest challenge round, a loaded machine. So a
request holds its lane from its slot until its answer has started (the body of
``async with pacer.slot(lane):`` sends the request and awaits the response headers, not
the body), and the next slot opens ``interval`` seconds after that. Long bodies (live
streams, downloads) are read after the lane is released. With a 3 s interval the
answer time adds only milliseconds; with the short intervals of tests it is what makes
the spacing hold at the NVR. A waiter that is cancelled gives its place up without
consuming a slot; a request cancelled in flight still counts.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
import time

SENT_HISTORY = 1000


class Lane(StrEnum):
    """A pacing lane; each lane has its own interval and queue."""

    COMMAND = "command"
    CONTROL = "control"


@dataclass(frozen=True, slots=True, kw_only=True)
class SentCommand:
    """When a request was let through, on which lane, for which CGI path."""

    time: float
    lane: Lane
    path: str


class _LaneQueue:
    """One holder at a time; priority waiters first, each kind in arrival order.

    An ``asyncio.Lock`` with two queues: releasing hands the lane straight to the next
    waiter, so nobody arriving meanwhile can take it first.
    """

    def __init__(self) -> None:
        self._held = False
        self._waiters: tuple[deque[asyncio.Future[None]], ...] = (deque(), deque())

    @asynccontextmanager
    async def hold(self, priority: bool) -> AsyncIterator[None]:
        """Wait for the lane, then hold it until the body ends."""
        if self._held:
            waiter = asyncio.get_running_loop().create_future()
            queue = self._waiters[0 if priority else 1]
            queue.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed the lane while being cancelled: pass it on
                elif waiter in queue:
                    queue.remove(waiter)
                raise
        self._held = True
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        for queue in self._waiters:
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    waiter.set_result(None)
                    return
        self._held = False


class Pacer:
    """Space the start of requests to one NVR, per lane, in arrival order (priority first)."""

    def __init__(
        self,
        command_interval: float = 3.0,
        control_interval: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if command_interval < 0 or control_interval < 0:
            raise ValueError("pacing intervals must not be negative")
        self.command_interval = command_interval
        self.control_interval = control_interval
        self._clock = clock
        self._queues = {lane: _LaneQueue() for lane in Lane}
        self._last: dict[Lane, float | None] = dict.fromkeys(Lane)
        # The newest commands only, for tests and diagnostics: a client runs for years.
        self.sent: deque[SentCommand] = deque(maxlen=SENT_HISTORY)
        self.count = 0

    def interval(self, lane: Lane) -> float:
        """Return the minimum spacing of request starts on ``lane``."""
        return self.command_interval if lane is Lane.COMMAND else self.control_interval

    @asynccontextmanager
    async def slot(
        self, lane: Lane, path: str = "", *, priority: bool = False
    ) -> AsyncIterator[float]:
        """Hold ``lane`` from the next free slot until the body ends; yield the slot time.

        A ``priority`` request is let through before every waiting ordinary one.
        """
        async with self._queues[lane].hold(priority):
            interval = self.interval(lane)
            while True:
                last = self._last[lane]
                delay = 0.0 if last is None else last + interval - self._clock()
                if delay <= 0:
                    break
                # The loop re-checks because the injected clock need not be the loop's.
                await asyncio.sleep(delay)
            now = self._clock()
            self.sent.append(SentCommand(time=now, lane=lane, path=path))
            self.count += 1
            try:
                yield now
            finally:
                self._last[lane] = self._clock()
