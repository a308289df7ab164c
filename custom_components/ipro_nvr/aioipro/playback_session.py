"""A playback session: recorder control commands and GOP/audio requests on its own UID.

The recorder control commands (``hdrctl.cgi`` MASK/PLAY/GOTODATE/PAUSE/...) are paced
like every command; the data requests (``camera.cgi`` GOPs, ``playaudio.cgi``) are
stream data and follow the playback's speed, not the 3 s rule. Times are aware
datetimes, sent as UTC ``TIMEF``. When the UID is lost and the transport logs in again,
a new UID knows nothing of the cameras chosen nor where playback was: the session keeps
its MASK and its position (GOTODATE while playing, PAUSE otherwise) as the commands that
prepare every fresh UID, so the retried request finds playback where it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from . import commands
from .commands import CgiCommand
from .models import PlaybackAudio, PlaybackGop
from .playback import parse_playback_audio, parse_playback_gop
from .session import UidSession
from .transport import Transport


class PlaybackSession:
    """Controls one playback; obtained from ``IproClient.playback()``."""

    def __init__(
        self,
        transport: Transport,
        session: UidSession,
        camera_count: Callable[[], Awaitable[int]],
    ) -> None:
        self._transport = transport
        self._session = session
        self._camera_count = camera_count
        self._mask: CgiCommand | None = None
        self._started = False
        self.position: datetime | None = None
        """The last time the session commanded or received, used for STOP on exit."""
        self.playing = False

    def _update_prepare(self) -> None:
        """Keep what a fresh UID needs to continue this playback."""
        prepare = [] if self._mask is None else [self._mask]
        if self._started and self.position is not None:
            resume = commands.goto_date if self.playing else commands.pause
            prepare.append(resume(self.position))
        self._session.prepare = prepare

    async def _control(self, command: CgiCommand, when: datetime | None, playing: bool) -> None:
        await self._transport.call(command, self._session)
        if when is not None:
            self.position = when
        self.playing = playing
        self._started = playing or self._started
        self._update_prepare()

    async def mask(self, cameras: Iterable[int]) -> None:
        """Choose the cameras to play back (send before playing, and on every change)."""
        command = commands.playback_mask(cameras, await self._camera_count())
        await self._transport.call(command, self._session)
        self._mask = command
        self._update_prepare()

    async def play(self) -> None:
        """Start playback (forward, normal speed)."""
        await self._control(commands.play(), None, True)

    async def reverse(self, when: datetime) -> None:
        """Play backwards from ``when``; each GOP request returns the one before."""
        await self._control(commands.reverse(when), when, True)

    async def pause(self, when: datetime) -> None:
        """Pause at ``when`` (the time of the picture on display)."""
        await self._control(commands.pause(when), when, False)

    async def next_frame(self, when: datetime) -> None:
        """Step to the picture after ``when`` (10 ms resolution)."""
        await self._control(commands.step(when, forward=True), when, False)

    async def prev_frame(self, when: datetime) -> None:
        """Step to the picture before ``when`` (10 ms resolution)."""
        await self._control(commands.step(when, forward=False), when, False)

    async def goto_date(self, when: datetime) -> None:
        """Play from ``when``."""
        await self._control(commands.goto_date(when), when, True)

    async def fast_forward(self, when: datetime) -> None:
        """Fast forward from ``when``; sending it again speeds up."""
        await self._control(commands.fast(when, forward=True), when, True)

    async def fast_reverse(self, when: datetime) -> None:
        """Fast reverse from ``when``; sending it again speeds up."""
        await self._control(commands.fast(when, forward=False), when, True)

    async def stop(self, when: datetime) -> None:
        """Stop playback at ``when``."""
        await self._control(commands.stop(when), when, False)
        self._started = False
        self._update_prepare()

    async def gop(self, camera: int) -> PlaybackGop:
        """Return the next group of pictures of ``camera`` (one JPEG for JPEG recordings)."""
        gop = parse_playback_gop(
            await self._transport.fetch(commands.playback_video(camera), self._session)
        )
        self.position = gop.end
        self._update_prepare()
        return gop

    async def audio(self, camera: int) -> PlaybackAudio:
        """Return about one second of ``camera``'s recorded audio."""
        return parse_playback_audio(
            await self._transport.fetch(commands.playback_audio(camera), self._session)
        )

    async def finish(self) -> None:
        """Send STOP if the playback still runs (on leaving the session)."""
        if self.playing:
            self.playing = False
            when = self.position or datetime.now(UTC)
            await self._transport.send_quiet(commands.stop(when), self._session)
