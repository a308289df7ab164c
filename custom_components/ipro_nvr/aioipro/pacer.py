"""Request pacing: one pacer per NVR spaces the start of every request.

The spec asks for at least 3 s between commands and about 0.2 s between camera-control
commands. Camera control has its own lane so a PTZ press never queues behind a slow
poll. Each lane is a FIFO queue (an ``asyncio.Lock`` wakes waiters in arrival order); the
lock is held only while waiting for the slot, never during the request itself, so a
long request (a live stream, a download) does not block the next one - only its start
is spaced. A waiter that is cancelled gives its place up without consuming a slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
import time


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


class Pacer:
    """Space the start of requests to one NVR, per lane, first come first served."""

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
        self._locks = {lane: asyncio.Lock() for lane in Lane}
        self._last: dict[Lane, float | None] = dict.fromkeys(Lane)
        self.sent: list[SentCommand] = []

    def interval(self, lane: Lane) -> float:
        """Return the minimum spacing of request starts on ``lane``."""
        return self.command_interval if lane is Lane.COMMAND else self.control_interval

    async def wait(self, lane: Lane, path: str = "") -> float:
        """Wait for the next free slot on ``lane``, claim it and return its time."""
        async with self._locks[lane]:
            interval = self.interval(lane)
            while True:
                last = self._last[lane]
                delay = 0.0 if last is None else last + interval - self._clock()
                if delay <= 0:
                    break
                # The loop re-checks because the injected clock need not be the loop's.
                await asyncio.sleep(delay)
            now = self._clock()
            self._last[lane] = now
            self.sent.append(SentCommand(time=now, lane=lane, path=path))
            return now

    @asynccontextmanager
    async def command(self, path: str = "") -> AsyncIterator[None]:
        """Wait for a slot on the command lane (3 s by default), then run the body."""
        await self.wait(Lane.COMMAND, path)
        yield

    @asynccontextmanager
    async def control(self, path: str = "") -> AsyncIterator[None]:
        """Wait for a slot on the camera-control lane (0.2 s by default), then run the body."""
        await self.wait(Lane.CONTROL, path)
        yield
