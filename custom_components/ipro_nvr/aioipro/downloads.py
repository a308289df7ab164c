"""Recording downloads (``httpdl.cgi``): to files, or as a stream of bytes.

One request covers at most one hour, so a longer window becomes hourly requests, each on
its own UID (login, download, logout), one after the other. At most two downloads run
at once per client (the NVR answers a third with status 3); status 3, and an HTTP 503
answer to the request, are retried with a growing delay before :class:`IproBusyError` is
raised.

Only the NVR's own verdict is trusted: the first part's status decides (1 no recording,
2 codec, 3 busy). An answer that says nothing - empty, not multipart, garbage, a first
part that ends the transfer without a file - is :class:`IproProtocolError`, never "no
recording"; so is a non-zero status after the first part (the NVR decides at the start,
so a later one contradicts the data already sent) and an answer that ends before its
last file is complete. A connection that breaks is :class:`IproConnectionError`, one that
stalls for the request timeout :class:`IproTimeoutError`.

The spec does not say how big a part is, so any size is taken, with or without
``Content-Length``: part bodies are streamed in chunks (to the file, or to the byte
stream) and a download costs a chunk and one read whatever its parts' sizes; junk
without a boundary is refused at the multipart reader's bound.

Files follow the NVR's protocol: each part's body belongs to the temp file its
``X-Temp-FileName`` names; a non-empty ``X-Prev-Filename`` closes the current temp file
under that name; an empty ``X-Temp-FileName`` ends the transfer. Names from the device
go through :func:`safe_file_name`, so nothing is written outside ``folder``, and an
existing file is never overwritten: a ``-1``, ``-2``... suffix is added. Temp files are
created exclusively and removed on any failure or cancellation, and a failed
``download()`` also removes the files it had completed, so a caller sees all or nothing.
All file I/O runs in a worker thread, never in the event loop.

Windows are aligned to whole minutes (the NVR's STARTTIME/ENDTIME have ``ss`` = 00):
the start is floored and the end raised, so nothing asked for is cut off. An hour
without recording is skipped when other hours have some; :class:`IproNoRecordingError`
is raised only when the whole window is empty.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
import logging
import os
from pathlib import Path
from typing import BinaryIO, Final

import aiohttp

from . import commands
from .commands import CgiCommand
from .download import parse_download_part, safe_file_name
from .errors import (
    IproBusyError,
    IproCodecError,
    IproConnectionError,
    IproNoRecordingError,
    IproProtocolError,
    IproTimeoutError,
)
from .models import DownloadedFile, DownloadKind, DownloadPartInfo
from .multipart import PartBody, StreamedPart, boundary_from_content_type, iter_streamed_parts
from .session import SessionRole, UidSession
from .transport import Transport

_LOGGER = logging.getLogger(__name__)

MAX_CONCURRENT_DOWNLOADS: Final = 2
MAX_WINDOW: Final = timedelta(hours=1)
MAX_NAME_SUFFIX: Final = 1000
STATUS_NORMAL: Final = 0
STATUS_NO_RECORDING: Final = 1
STATUS_CODEC: Final = 2
STATUS_BUSY: Final = 3
# The HTTP answer to httpdl.cgi that refuses for load, retried like status 3.
HTTP_UNAVAILABLE: Final = 503
_MINUTE: Final = timedelta(minutes=1)


def _floor_minute(moment: datetime) -> datetime:
    return moment.replace(second=0, microsecond=0)


def _ceil_minute(moment: datetime) -> datetime:
    floored = _floor_minute(moment)
    return floored if floored == moment else floored + _MINUTE


def split_windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Return the whole-minute windows of at most one hour covering ``start``..``end``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("download times must be timezone-aware")
    if end <= start:
        raise ValueError("the download must end after it starts")
    first, last = _floor_minute(start), _ceil_minute(end)
    windows: list[tuple[datetime, datetime]] = []
    while first < last:
        window_end = min(first + MAX_WINDOW, last)
        windows.append((first, window_end))
        first = window_end
    return windows


def check_status(info: DownloadPartInfo, camera: int) -> None:
    """Raise the error the first part's status stands for; status 0 must open a file."""
    if info.status == STATUS_NORMAL:
        if not info.temp_name:
            raise IproProtocolError(
                f"The NVR ended the download of camera {camera} with status 0 (normal) "
                "without sending a file."
            )
        return
    if info.status == STATUS_NO_RECORDING:
        raise IproNoRecordingError(f"Camera {camera} has no recording in the requested period.")
    if info.status == STATUS_CODEC:
        raise IproCodecError(
            f"The recording of camera {camera} cannot be delivered as asked (an MP4 of a "
            "JPEG recording); choose another file type."
        )
    if info.status == STATUS_BUSY:
        raise IproBusyError("The NVR is busy with other downloads (two at most); try again later.")
    raise IproProtocolError(f"The NVR sent an unknown download status {info.status}.")


def check_later_status(info: DownloadPartInfo, camera: int) -> None:
    """Refuse a status after the first part: it contradicts the data already sent."""
    if info.status != STATUS_NORMAL:
        raise IproProtocolError(
            f"The NVR changed the download status of camera {camera} to {info.status} in "
            "the middle of the transfer."
        )


def _cut_short(camera: int) -> IproProtocolError:
    return IproProtocolError(
        f"The NVR's answer for camera {camera} ended before its last file was complete; try again."
    )


def _candidates(folder: Path, name: str) -> Iterator[Path]:
    """Yield ``name`` in ``folder``, then ``stem-1.ext``, ``stem-2.ext``..."""
    path = folder / name
    yield path
    stem, suffix = path.stem, path.suffix
    for number in range(1, MAX_NAME_SUFFIX):
        yield folder / f"{stem}-{number}{suffix}"


def _create_exclusive(folder: Path, name: str) -> tuple[Path, BinaryIO]:
    """Create a new file under ``name`` (or a suffixed name); never open an existing one."""
    for path in _candidates(folder, name):
        try:
            return path, path.open("xb")
        except FileExistsError:
            continue
    raise IproProtocolError(f"Too many files named like {name!r} in {folder}.")


def _place(temp: Path, folder: Path, name: str) -> Path:
    """Give the finished ``temp`` file its final ``name`` without replacing a file."""
    for path in _candidates(folder, name):
        try:
            os.link(temp, path)
        except FileExistsError:
            continue
        except OSError:
            # No hard links on this file system: check, then rename.
            if path.exists():
                continue
            temp.rename(path)
            return path
        temp.unlink()
        return path
    raise IproProtocolError(f"Too many files named like {name!r} in {folder}.")


def _remove(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


@dataclass
class _FileWriter:
    """Writes the parts of one ``httpdl.cgi`` answer into files in ``folder``.

    File operations run in a thread, which a cancel does not stop: each one records what
    it created on the writer itself, in the thread, and :meth:`discard` waits for the one
    in flight. Otherwise a download cancelled while its temp file was being created, or
    its finished file named, left that file behind.
    """

    folder: Path
    files: list[DownloadedFile] = field(default_factory=list)
    _temp_name: str | None = None
    _temp_path: Path | None = None
    _handle: BinaryIO | None = None
    _size: int = 0
    _in_flight: asyncio.Future[None] | None = None

    async def receive(self, info: DownloadPartInfo, body: AsyncIterable[bytes]) -> None:
        """Write one part's bytes into the file its headers name.

        A part naming the finished file and a new temp file closes the old one before
        its bytes; the last part (no temp file) may still carry the finished file's last
        bytes.
        """
        finished = safe_file_name(info.prev_name) if info.prev_name else None
        if finished is None:
            if self._temp_name is not None and info.temp_name != self._temp_name:
                raise IproProtocolError("The NVR switched files without naming the finished one.")
        elif info.temp_name:
            await self._finish(finished)
        if info.temp_name and self._handle is None:
            temp = safe_file_name(info.temp_name)

            def create() -> None:
                self._temp_path, self._handle = _create_exclusive(self.folder, temp)

            await self._in_thread(create)
            self._temp_name = info.temp_name
            self._size = 0
        async for chunk in body:
            await self._write(chunk)
        if finished is not None and not info.temp_name:
            await self._finish(finished)

    async def _write(self, chunk: bytes) -> None:
        # receive() writes only into an open file: the first part opens one (the request
        # checks that), and each later part either keeps it or closes it, checked.
        handle = self._handle
        assert handle is not None

        def write() -> None:
            handle.write(chunk)

        await self._in_thread(write)
        self._size += len(chunk)

    async def _finish(self, name: str) -> None:
        handle, temp = self._handle, self._temp_path
        if handle is None or temp is None:
            raise IproProtocolError("The NVR closed a download file it never opened.")
        size = self._size

        def finish() -> None:
            handle.close()
            self._handle = None
            path = _place(temp, self.folder, name)
            # Forget the temp file only once its file is listed: discard() finds one of them.
            self.files.append(DownloadedFile(path=path, size=size))
            self._temp_path = self._temp_name = None

        await self._in_thread(finish)

    async def _in_thread(self, operation: Callable[[], None]) -> None:
        """Run a file operation in a thread; a cancel leaves it running, for discard()."""
        self._in_flight = asyncio.ensure_future(asyncio.to_thread(operation))
        await asyncio.shield(self._in_flight)

    async def discard(self) -> None:
        """Remove the temp file and every file this answer completed."""
        if self._in_flight is not None:
            await asyncio.wait([self._in_flight])
            self._in_flight.exception()  # raised to the download already, or moot now
        handle, temp = self._handle, self._temp_path
        self._handle = self._temp_path = None
        paths = [f.path for f in self.files]
        self.files = []
        if temp is not None:
            paths.append(temp)

        def work() -> None:
            if handle is not None:
                handle.close()
            _remove(paths)

        await asyncio.to_thread(work)


@dataclass(slots=True)
class _AnswerReader:
    """The bytes of an ``httpdl.cgi`` answer; a stall or a break as the client's errors."""

    response: aiohttp.ClientResponse
    camera: int
    transport: Transport

    async def read(self, n: int = -1, /) -> bytes:
        """Return up to ``n`` bytes of the answer, ``b""`` at its end."""
        try:
            return await self.response.content.read(n)
        except TimeoutError as err:
            raise IproTimeoutError(
                f"The NVR at {self.transport.where} stopped sending the download of camera "
                f"{self.camera} for {self.transport.request_timeout:g} s; check that it is "
                "not overloaded and try again."
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            raise IproConnectionError(
                f"The download of camera {self.camera} from {self.transport.where} broke "
                f"({type(err).__name__}); check the network and try again."
            ) from err


class DownloadManager:
    """Runs a client's downloads, two at most at once."""

    def __init__(self, transport: Transport, retry_delays: tuple[float, ...]) -> None:
        self._transport = transport
        self._retry_delays = retry_delays
        self._slots = asyncio.Semaphore(MAX_CONCURRENT_DOWNLOADS)

    @asynccontextmanager
    async def _window(
        self, camera: int, start: datetime, end: datetime, kind: DownloadKind
    ) -> AsyncIterator[AsyncIterator[tuple[DownloadPartInfo, PartBody]]]:
        """Open one request (own UID, a download slot); yield its transfer's parts.

        The first part has status 0 and opens a file. Busy answers (status 3, HTTP 503)
        are retried after the configured delays.
        """
        command = commands.download(camera, start, end, kind)
        delays = list(self._retry_delays)
        while True:
            async with self._slots, AsyncExitStack() as stack:
                session = self._transport.new_session(SessionRole.DOWNLOAD)
                session.users = 1
                stack.push_async_callback(self._release, session)
                response = await self._transport.with_session(
                    session, partial(self._open, command, session)
                )
                if response is None:
                    if not delays:
                        raise IproBusyError(
                            f"The NVR at {self._transport.where} refused the download for "
                            "load (HTTP 503); try again later."
                        )
                else:
                    stack.callback(response.close)
                    parts = self._parts(response, camera)
                    stack.push_async_callback(parts.aclose)
                    info, first = await self._first_part(parts, camera)
                    if info.status != STATUS_BUSY or not delays:
                        check_status(info, camera)
                        transfer = self._transfer(info, first, parts, camera)
                        stack.push_async_callback(transfer.aclose)
                        yield transfer
                        return
            delay = delays.pop(0)
            _LOGGER.info("NVR busy with downloads; retrying in %s s", delay)
            await asyncio.sleep(delay)

    @staticmethod
    async def _first_part(
        parts: AsyncIterator[StreamedPart], camera: int
    ) -> tuple[DownloadPartInfo, StreamedPart]:
        """Read the part that carries the NVR's verdict on the request."""
        first = await anext(parts, None)
        if first is None:
            raise IproProtocolError(
                f"The NVR answered the download of camera {camera} without any download "
                "part (empty or not multipart), so it did not say whether anything is "
                "recorded."
            )
        return parse_download_part(first.headers), first

    async def _open(
        self, command: CgiCommand, session: UidSession, uid: str
    ) -> aiohttp.ClientResponse | None:
        """Send the request; ``None`` when the NVR refuses it for load (HTTP 503)."""
        response = await self._transport.request(command, uid, session, stream=True)
        if response.status == HTTP_UNAVAILABLE:
            response.release()
            return None
        await self._transport.check_stream_start(response, command)
        return response

    async def _release(self, session: UidSession) -> None:
        session.users = 0
        await self._transport.release(session)

    def _parts(self, response: aiohttp.ClientResponse, camera: int) -> AsyncGenerator[StreamedPart]:
        boundary = boundary_from_content_type(response.headers.get("Content-Type"))
        return iter_streamed_parts(_AnswerReader(response, camera, self._transport), boundary)

    @staticmethod
    async def _transfer(
        info: DownloadPartInfo,
        part: StreamedPart,
        parts: AsyncIterator[StreamedPart],
        camera: int,
    ) -> AsyncGenerator[tuple[DownloadPartInfo, PartBody]]:
        """Yield each part of the transfer, the first one's included, up to its last."""
        while True:
            yield info, part.body
            if not info.temp_name:
                return
            following = await anext(parts, None)
            if following is None:
                raise _cut_short(camera)
            part = following
            info = parse_download_part(part.headers)
            check_later_status(info, camera)

    async def _receive(
        self,
        writer: _FileWriter,
        camera: int,
        window: tuple[datetime, datetime],
        kind: DownloadKind,
    ) -> None:
        async with self._window(camera, *window, kind) as transfer:
            async for info, body in transfer:
                await writer.receive(info, body)

    async def _download_window(
        self,
        camera: int,
        window: tuple[datetime, datetime],
        kind: DownloadKind,
        folder: Path,
    ) -> list[DownloadedFile]:
        writer = _FileWriter(folder)
        try:
            await self._receive(writer, camera, window, kind)
        except BaseException:
            await asyncio.shield(writer.discard())
            raise
        return writer.files

    async def _download_all(
        self,
        files: list[DownloadedFile],
        camera: int,
        windows: list[tuple[datetime, datetime]],
        kind: DownloadKind,
        folder: Path,
    ) -> None:
        for window in windows:
            try:
                files += await self._download_window(camera, window, kind, folder)
            except IproNoRecordingError:
                if len(windows) == 1:
                    raise
                _LOGGER.debug("No recording of camera %s from %s", camera, window[0])
        if not files:
            raise IproNoRecordingError(f"Camera {camera} has no recording in the requested period.")

    async def download(
        self, camera: int, start: datetime, end: datetime, kind: DownloadKind, folder: Path
    ) -> list[DownloadedFile]:
        """Download ``start``..``end`` of ``camera`` into ``folder`` (see module docstring)."""
        windows = split_windows(start, end)
        await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
        files: list[DownloadedFile] = []
        try:
            await self._download_all(files, camera, windows, kind, folder)
        except BaseException:
            await asyncio.shield(asyncio.to_thread(_remove, [f.path for f in files]))
            raise
        return files

    def stream(
        self, camera: int, start: datetime, end: datetime, kind: DownloadKind
    ) -> AbstractAsyncContextManager[AsyncIterator[bytes]]:
        """Return a context manager yielding the file bytes as they arrive (one hour max).

        Errors in the status of the first part are raised on entry, before any byte, so
        an HTTP view can still answer with an error status.
        """
        windows = split_windows(start, end)
        if len(windows) > 1:
            raise ValueError("a streamed download covers one hour at most")
        return self._stream(camera, *windows[0], kind)

    @asynccontextmanager
    async def _stream(
        self, camera: int, start: datetime, end: datetime, kind: DownloadKind
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        async with self._window(camera, start, end, kind) as transfer:

            async def chunks() -> AsyncIterator[bytes]:
                async for _, body in transfer:
                    async for chunk in body:
                        yield chunk

            yield chunks()
