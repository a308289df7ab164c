"""Mutable state of the simulated NVR: sessions, logs, camera control and playback."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
import random
import time

from .encoders import LogLine, TimeZone

EVENT_KINDS = (
    "SITE(VMD)-{cam}",
    "CAM SITE(VMD)-{cam}",
    "TERMINAL-{cam}",
    "COMMAND ALARM",
    "LOSS-{cam}",
)
ERROR_KINDS = (
    "CAM {cam} COMMUNICATION ERROR",
    "CAM {cam} COMMUNICATION RECOVERED",
    "HDD MAIN-1 TEMPERATURE ERROR",
    "NETWORK ERROR",
)


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One log entry: when (epoch, UTC) and the kind text."""

    time: float
    kind: str


class LogBook:
    """A bounded log, newest first, that drops its oldest entries when full."""

    def __init__(self, max_entries: int) -> None:
        self._max = max_entries
        self._entries: list[LogRecord] = []

    def add(self, kind: str, at: float | None = None) -> LogRecord:
        """Record an entry (now unless ``at`` says otherwise) at its place in time order."""
        record = LogRecord(time=time.time() if at is None else at, kind=kind)
        position = next(
            (i for i, entry in enumerate(self._entries) if entry.time <= record.time),
            len(self._entries),
        )
        self._entries.insert(position, record)
        del self._entries[self._max :]
        return record

    def clear(self) -> None:
        """Empty the log, as the NVR's "clear log" does."""
        self._entries.clear()

    @property
    def entries(self) -> tuple[LogRecord, ...]:
        """Entries newest first."""
        return tuple(self._entries)

    def lines(self, tz: TimeZone) -> list[LogLine]:
        """The entries as printed by ``loglist.cgi``."""
        return [
            LogLine(
                local_time=tz.local(record.time),
                summer=tz.summer,
                kind=record.kind,
                zone=tz.zone_text,
            )
            for record in self._entries
        ]


class LogGrower:
    """Adds random entries to a log at random intervals (mean ``interval`` seconds)."""

    def __init__(
        self,
        log: LogBook,
        kinds: tuple[str, ...],
        interval: float,
        cameras: Callable[[], list[int]],
        rng: random.Random,
    ) -> None:
        self._log = log
        self._kinds = kinds
        self._interval = interval
        self._cameras = cameras
        self._rng = rng

    def random_kind(self) -> str:
        """A plausible kind text naming one of the registered cameras."""
        cameras = self._cameras() or [1]
        return self._rng.choice(self._kinds).format(cam=self._rng.choice(cameras))

    async def run(self) -> None:
        """Grow the log until cancelled."""
        while True:
            await asyncio.sleep(self._rng.expovariate(1.0 / self._interval))
            self._log.add(self.random_kind())


class CameraTable:
    """Connection status of every camera slot (``CAM_CONNECT``), changeable at run time."""

    def __init__(self, statuses: dict[int, int]) -> None:
        self._statuses = dict(statuses)

    def status(self, camera: int) -> int:
        """0 not registered, 1 normal, 2 connection error."""
        return self._statuses[camera]

    def set(self, camera: int, status: int) -> int:
        """Change a camera's status; return the previous one."""
        if camera not in self._statuses:
            raise ValueError(f"camera {camera} is outside 1..{len(self._statuses)}")
        if status not in (0, 1, 2):
            raise ValueError("status must be 0, 1 or 2")
        previous = self._statuses[camera]
        self._statuses[camera] = status
        return previous

    def registered(self) -> list[int]:
        """Numbers of the registered cameras (status 1 or 2)."""
        return [camera for camera, status in self._statuses.items() if status]

    def snapshot(self) -> dict[int, int]:
        """Every slot's status."""
        return dict(self._statuses)


class PlayMode(StrEnum):
    """What ``camera.cgi`` does with the cursor after each answer."""

    PLAY = "PLAY"
    BPLAY = "BPLAY"
    PAUSE = "PAUSE"
    NEXTFRAME = "NEXTFRAME"
    PREVFRAME = "PREVFRAME"
    FF = "FF"
    REW = "REW"


@dataclass(slots=True)
class PlaybackState:
    """Recorder control state of one UID: which cameras, where and how it plays."""

    mask: frozenset[int] = frozenset()
    mode: PlayMode | None = None
    speed: int = 0
    position: float = 0.0
    cursors: dict[int, float] = field(default_factory=dict)
    audio_cursors: dict[int, float] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        """Whether playback was started and not stopped."""
        return self.mode is not None

    def control(self, mode: PlayMode | None, position: float) -> None:
        """Apply a PLAYCMD: move every camera to ``position`` in ``mode``."""
        if mode in (PlayMode.FF, PlayMode.REW) and self.mode == mode:
            self.speed = min(8, self.speed + 1)
        elif mode in (PlayMode.FF, PlayMode.REW):
            self.speed = 1
        else:
            self.speed = 0
        self.mode = mode
        self.position = position
        self.cursors.clear()
        self.audio_cursors.clear()

    def step(self) -> int:
        """How many units (GOPs, JPEG frames, audio blocks) one request moves the cursor."""
        match self.mode:
            case PlayMode.PLAY | PlayMode.NEXTFRAME:
                return 1
            case PlayMode.BPLAY | PlayMode.PREVFRAME:
                return -1
            case PlayMode.FF:
                return 1 + self.speed
            case PlayMode.REW:
                return -1 - self.speed
            case _:
                return 0


@dataclass(slots=True)
class StreamHandle:
    """A running live stream; setting ``stopped`` ends it at its next frame."""

    camera: int
    kind: str
    codec: str
    udp_port: int | None = None
    stopped: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None

    def stop(self) -> None:
        """Ask the stream to end."""
        self.stopped.set()


@dataclass(slots=True)
class Session:
    """One UID and what runs on it."""

    uid: str
    issued: float
    last_used: float
    live_ready: bool = False
    streams: dict[tuple[int, str], StreamHandle] = field(default_factory=dict)
    playback: PlaybackState = field(default_factory=PlaybackState)
    alive: bool = True

    def close(self) -> None:
        """Invalidate the UID and end its streams."""
        self.alive = False
        for stream in self.streams.values():
            stream.stop()
        self.streams.clear()

    @property
    def video_streams(self) -> int:
        """Number of live video streams on this UID."""
        return sum(1 for _, kind in self.streams if kind == "video")


class SessionManager:
    """The device-wide UID table: issue, look up (refreshing), expire, evict."""

    def __init__(
        self,
        *,
        lifetime: float,
        max_uids: int,
        digits: int,
        rng: random.Random,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.lifetime = lifetime
        self.max_uids = max_uids
        self._digits = digits
        self._rng = rng
        self._clock = clock
        self._sessions: dict[str, Session] = {}

    def _new_uid(self) -> str:
        low = 10 ** (self._digits - 1) if self._digits > 1 else 1
        high = min(10**self._digits - 1, 2**63 - 1)
        while True:
            uid = str(self._rng.randint(low, high))
            if uid not in self._sessions:
                return uid

    def expire(self) -> list[Session]:
        """Drop every UID unused for ``lifetime`` seconds; return them."""
        now = self._clock()
        gone = [s for s in self._sessions.values() if now - s.last_used >= self.lifetime]
        for session in gone:
            self._remove(session)
        return gone

    def _remove(self, session: Session) -> None:
        self._sessions.pop(session.uid, None)
        session.close()

    @property
    def full(self) -> bool:
        """Whether every UID is in use."""
        self.expire()
        return len(self._sessions) >= self.max_uids

    def issue(self) -> tuple[Session, Session | None]:
        """A fresh UID; past the limit the oldest issued one is invalidated (returned)."""
        self.expire()
        evicted = None
        if len(self._sessions) >= self.max_uids:
            evicted = min(self._sessions.values(), key=lambda s: s.issued)
            self._remove(evicted)
        now = self._clock()
        session = Session(uid=self._new_uid(), issued=now, last_used=now)
        self._sessions[session.uid] = session
        return session, evicted

    def peek(self, uid: str | None) -> Session | None:
        """The live session of ``uid`` without touching its clock."""
        if uid is None:
            return None
        session = self._sessions.get(uid)
        if session is None:
            return None
        if self._clock() - session.last_used >= self.lifetime:
            self._remove(session)
            return None
        return session

    def use(self, uid: str | None) -> Session | None:
        """The live session of ``uid``, restarting its lifetime clock."""
        session = self.peek(uid)
        if session is not None:
            session.last_used = self._clock()
        return session

    def logout(self, uid: str) -> bool:
        """Release a UID; False when it was not valid."""
        session = self.peek(uid)
        if session is None:
            return False
        self._remove(session)
        return True

    def invalidate_all(self) -> None:
        """Forget every UID (reboot, fault knob)."""
        for session in list(self._sessions.values()):
            self._remove(session)

    @property
    def sessions(self) -> tuple[Session, ...]:
        """The valid sessions, oldest first."""
        self.expire()
        return tuple(sorted(self._sessions.values(), key=lambda s: s.issued))

    @property
    def count(self) -> int:
        """``USEDUID``: number of valid UIDs."""
        return len(self.sessions)


@dataclass(slots=True)
class CameraControlState:
    """What camera control commands did to one camera, for tests to assert."""

    pan: int = 0
    tilt: int = 0
    zoom: int = 0
    moves: int = 0
    centering: tuple[int, int] | None = None
    focus: str | None = None
    iris: str | None = None
    presets: set[int] = field(default_factory=set)
    current_preset: int | None = None
    aux: dict[int, bool] = field(default_factory=lambda: dict.fromkeys(range(1, 9), False))
    commands: list[str] = field(default_factory=list)
