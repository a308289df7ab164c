"""Sessions (UIDs): which ones a client holds and when each was last used.

The NVR issues at most 16 UIDs device-wide and forgets one 90 s after its last use, so
the client uses few and tracks each: one for polling and camera control, one shared by
all live streams, one per playback and per download. A UID is a secret of sorts (it
grants access without credentials), so only a masked form ever reaches a log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from enum import StrEnum

from .commands import CgiCommand

UID_LIFETIME = 90.0


class SessionRole(StrEnum):
    """What a UID is used for; live and playback never share one."""

    CONTROL = "control"
    LIVE = "live"
    PLAYBACK = "playback"
    DOWNLOAD = "download"


def mask_uid(uid: str | None) -> str:
    """Return a UID fit for logs: its last two digits only."""
    if not uid:
        return "<none>"
    return f"***{uid[-2:]}"


@dataclass(eq=False, repr=False)
class UidSession:
    """One UID, re-acquired under ``lock`` when it is lost.

    ``users`` counts open streams and sessions that need the UID kept alive (the control
    UID is always kept alive once issued). ``prepare`` lists the commands that put a fresh
    UID in the state its users expect (live setup; a playback's MASK and position); they
    are sent after every login.

    The UID changes only through :meth:`replace`, which wakes whoever waits in
    :meth:`left`: a request queued for the 3 s lane with a UID found lost gives its place
    up instead of spending a slot on an answer known in advance. When several requests
    notice the same lost UID, the first :meth:`lose` forgets it and the others find the
    session moved on, so one login replaces it.
    """

    role: SessionRole
    uid: str | None = None
    last_used: float = 0.0
    users: int = 0
    prepare: list[CgiCommand] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)
    _moved: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def replace(self, uid: str | None) -> None:
        """Hold ``uid`` from now on (``None``: none, log in before the next request)."""
        self.uid = uid
        self._moved.set()
        self._moved = asyncio.Event()

    def lose(self, uid: str) -> None:
        """Note that the NVR no longer knows ``uid``, unless the session moved on already."""
        if self.uid == uid:
            self.replace(None)

    async def left(self, uid: str) -> None:
        """Return once the session no longer holds ``uid`` (lost, or logged in again)."""
        while self.uid == uid:
            await self._moved.wait()

    def touch(self, now: float) -> None:
        """Record a request that carried the UID (it restarts the NVR's 90 s clock)."""
        self.last_used = now

    def expired(self, now: float) -> bool:
        """Return whether the NVR has surely forgotten the UID (90 s without use)."""
        return self.uid is not None and now - self.last_used >= UID_LIFETIME

    def wants_keepalive(self, now: float, idle: float) -> bool:
        """Return whether a keep-alive is due: in use, issued, and idle for ``idle`` s."""
        in_use = self.role is SessionRole.CONTROL or self.users > 0
        return in_use and self.uid is not None and now - self.last_used >= idle

    def __repr__(self) -> str:
        return f"<UidSession {self.role} uid={mask_uid(self.uid)} users={self.users}>"
