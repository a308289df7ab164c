"""Request pacing: one pacer per NVR spaces the requests it receives, per lane.

The spec asks for at least 3 s between commands and about 0.2 s between camera-control
commands. Camera control has its own lane so a PTZ press never queues behind a slow
poll. Each lane is a queue served in arrival order, except that a ``priority`` request
goes before waiting ordinary ones: the integration's polls (one or two a refresh) must
not wait behind a burst of stream STARTs and STOPs - a dashboard of 16 cameras queued
about 18 commands, 54 s, in front of the event log. Priority is not absolute, though:
after ``PRIORITY_RUN`` priority requests in a row, a waiting ordinary one goes next. With
the default intervals the polls alone take most slots, and a recording opened from the
media browser (a login and two playback commands) waited 48 s behind them. A run of two
lets a refresh (the event log and one slower poll) go through unbroken.

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
from functools import partial
import time

SENT_HISTORY = 1000
PRIORITY_RUN = 2


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

    Except that after ``PRIORITY_RUN`` priority holders in a row an ordinary waiter goes
    next.

    Like an ``asyncio.Lock`` with two queues, except that the next holder is chosen when
    the next slot opens (``opens_in`` seconds from now), not when the lane is released:
    a poll that arrives while a stream START waits out the interval still goes first.
    While a hand-over is pending, newcomers queue too, so nobody takes the lane out of
    turn.
    """

    def __init__(self, opens_in: Callable[[], float]) -> None:
        self._opens_in = opens_in
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        self._priority: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()
        self._priority_run = 0

    @asynccontextmanager
    async def hold(self, priority: bool) -> AsyncIterator[None]:
        """Wait for the lane and its next slot, then hold the lane until the body ends."""
        if self._busy or self._timer is not None or self._opens_in() > 0:
            waiter = asyncio.get_running_loop().create_future()
            queue = self._priority if priority else self._ordinary
            queue.append(waiter)
            if not self._busy and self._timer is None:
                self._schedule()
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # handed the lane while being cancelled: pass it on
                else:
                    if waiter in queue:
                        queue.remove(waiter)
                    if self._timer is not None and not self._waiting():
                        self._timer.cancel()
                        self._timer = None
                raise
        self._busy = True
        self._priority_run = self._priority_run + 1 if priority else 0
        try:
            yield
        finally:
            self._release()

    def _waiting(self) -> bool:
        return any(not waiter.done() for waiter in (*self._priority, *self._ordinary))

    def _release(self) -> None:
        self._busy = False
        self._schedule()

    def _schedule(self) -> None:
        """Hand the lane to the first waiter when the next slot opens (now if it is open)."""
        if not self._waiting():
            return
        delay = self._opens_in()
        if delay > 0:
            self._timer = asyncio.get_running_loop().call_later(delay, self._hand_over)
        else:
            self._hand_over()

    def _hand_over(self) -> None:
        self._timer = None
        for queue in self._turns():
            while queue:
                waiter = queue.popleft()
                if not waiter.done():
                    self._busy = True
                    waiter.set_result(None)
                    return

    def _turns(self) -> tuple[deque[asyncio.Future[None]], ...]:
        """The queues in the order the next hand-over tries them."""
        if self._priority_run >= PRIORITY_RUN and any(not w.done() for w in self._ordinary):
            return (self._ordinary, self._priority)
        return (self._priority, self._ordinary)


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
        self._last: dict[Lane, float | None] = dict.fromkeys(Lane)
        self._queues = {lane: _LaneQueue(partial(self._opens_in, lane)) for lane in Lane}
        # The newest commands only, for tests and diagnostics: a client runs for years.
        self.sent: deque[SentCommand] = deque(maxlen=SENT_HISTORY)
        self.count = 0

    def interval(self, lane: Lane) -> float:
        """Return the minimum spacing of request starts on ``lane``."""
        return self.command_interval if lane is Lane.COMMAND else self.control_interval

    def _opens_in(self, lane: Lane) -> float:
        """Return the seconds until ``lane``'s next slot opens (0 or less: open)."""
        last = self._last[lane]
        return 0.0 if last is None else last + self.interval(lane) - self._clock()

    @asynccontextmanager
    async def slot(
        self, lane: Lane, path: str = "", *, priority: bool = False
    ) -> AsyncIterator[float]:
        """Hold ``lane`` from the next free slot until the body ends; yield the slot time.

        A ``priority`` request is let through before waiting ordinary ones, but not more
        than ``PRIORITY_RUN`` in a row while one of them waits.
        """
        async with self._queues[lane].hold(priority):
            while True:
                delay = self._opens_in(lane)
                if delay <= 0:
                    break
                # The queue waited on the loop's clock; an injected clock may disagree.
                await asyncio.sleep(delay)
            now = self._clock()
            self.sent.append(SentCommand(time=now, lane=lane, path=path))
            self.count += 1
            try:
                yield now
            finally:
                self._last[lane] = self._clock()
