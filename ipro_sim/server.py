"""The simulated NVR: every CGI of the spec served by aiohttp on a loopback port.

How the simulator answers what the spec leaves open (see also PROTOCOL-NOTES.md):

- Missing or wrong parameters: HTTP 400 with a short ``text/html`` body naming the
  problem. Fixed values (``PC=AS60``, ``2ND=OFF``, ...) are checked; unknown extra
  parameters are ignored.
- Unknown or expired UID: the login page without a UID (HTTP 200), or per
  ``invalid_uid_answer`` HTTP 403 or an empty 200 body.
- Commands whose answer the spec does not show (``logout.cgi``, ``status.cgi``,
  ``hdrctl.cgi``, ``push.cgi`` STOP and RTP START, camera control): HTTP 200 with
  ``<HTML>OK</HTML>`` lines.
- Misuse the spec forbids (same camera twice on a UID, more than 16 streams, live and
  playback on one UID, audio before video, ``camera.cgi`` outside playback): HTTP 400.
- Every request needs HTTP authentication (401 with a challenge otherwise), except with
  ``uid_skips_auth`` a request carrying a valid UID.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
import contextlib
from dataclasses import dataclass
from datetime import UTC, datetime
import itertools
import logging
import math
import os
import random
import ssl
import time
from types import TracebackType
from typing import Self
from urllib.parse import unquote

from aiohttp import web
from multidict import CIMultiDict

from .auth import Authenticator
from .config import STATUS_CONNECTION_ERROR, STATUS_NORMAL, SimulatorConfig
from .encoders import (
    STATUS_FAST_FORWARD,
    STATUS_FAST_REVERSE,
    STATUS_NEXT,
    STATUS_PAUSE,
    STATUS_PLAY,
    STATUS_PREVIOUS,
    STATUS_REVERSE,
    DiskLine,
    TimeZone,
    camera_connection_text,
    download_name,
    filename_header,
    hdd_text,
    log_list_text,
    login_page,
    multipart_end,
    multipart_part,
    session_lost_page,
)
from .faults import Faults, cgi_name
from .live import (
    AUDIO_CONTENT_TYPES,
    RtpState,
    audio_rtp_packet,
    frame_ticks,
    jpeg_body,
    video_packets,
)
from .media import MediaLibrary
from .recording import Recording
from .state import (
    ERROR_KINDS,
    EVENT_KINDS,
    CameraControlState,
    CameraTable,
    LogBook,
    LogGrower,
    PlayMode,
    Session,
    SessionManager,
    StreamHandle,
)
from .tls import self_signed_context

_LOGGER = logging.getLogger(__name__)

CONTROL_CGIS = frozenset({"camctl.cgi", "directctrl.cgi"})
STREAM_DATA_CGIS = frozenset({"camera.cgi", "playaudio.cgi"})
HUGE_CONTENT_LENGTH = 2**31
PLAY_DEFAULT_BACK = 60.0
STATUS_BY_MODE = {
    PlayMode.PLAY: STATUS_PLAY,
    PlayMode.BPLAY: STATUS_REVERSE,
    PlayMode.FF: STATUS_FAST_FORWARD,
    PlayMode.REW: STATUS_FAST_REVERSE,
    PlayMode.PAUSE: STATUS_PAUSE,
    PlayMode.NEXTFRAME: STATUS_NEXT,
    PlayMode.PREVFRAME: STATUS_PREVIOUS,
}
DOWNLOAD_EXTENSIONS = {"MP4": "mp4", "MP4VO": "mp4", "N3": "n3r", "N3VO": "n3r", "LIST": "n3n"}


@dataclass(slots=True)
class RequestRecord:
    """One request as it arrived: ``time`` is ``time.monotonic()`` at arrival."""

    time: float
    method: str
    path: str
    query: list[tuple[str, str]]
    uid: str | None
    status: int | None = None

    @property
    def cgi(self) -> str:
        """``loglist.cgi`` for ``/cgi-bin/loglist.cgi``."""
        return cgi_name(self.path)


class BadRequestError(Exception):
    """A parameter is missing, malformed or not allowed now: answered with HTTP 400."""


class SessionLostError(Exception):
    """The request's UID is unknown or expired."""


class DroppedError(Exception):
    """A fault knob closed the connection in the middle of an answer."""


def parse_query(raw: str) -> list[tuple[str, str]]:
    """Ordered ``(key, value)`` pairs exactly as sent, repeated keys kept."""
    pairs = []
    for item in raw.split("&"):
        if item:
            key, _, value = item.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


class Params:
    """Typed access to the query pairs, raising ``BadRequestError`` on anything wrong."""

    def __init__(self, pairs: Sequence[tuple[str, str]]) -> None:
        self.pairs = pairs

    def __contains__(self, key: str) -> bool:
        return any(name == key for name, _ in self.pairs)

    def get(self, key: str) -> str | None:
        """The first value of ``key``."""
        return next((value for name, value in self.pairs if name == key), None)

    def getall(self, key: str) -> list[str]:
        """Every value of ``key`` in order."""
        return [value for name, value in self.pairs if name == key]

    def require(self, key: str) -> str:
        """The value of a mandatory parameter."""
        value = self.get(key)
        if value is None or value == "":
            raise BadRequestError(f"missing parameter {key}")
        return value

    def fixed(self, key: str, expected: str) -> None:
        """Check a parameter the spec gives a fixed value."""
        if self.require(key) != expected:
            raise BadRequestError(f"{key} must be {expected}")

    def choice(self, key: str, allowed: Sequence[str]) -> str:
        """A mandatory parameter with one of ``allowed`` values."""
        value = self.require(key)
        if value not in allowed:
            raise BadRequestError(f"{key}={value} is not one of {', '.join(allowed)}")
        return value

    def integer(self, key: str, low: int, high: int) -> int:
        """A mandatory integer within ``[low, high]``."""
        value = self.require(key)
        try:
            number = int(value, 10)
        except ValueError:
            raise BadRequestError(f"{key}={value} is not a number") from None
        if not low <= number <= high:
            raise BadRequestError(f"{key}={value} is outside {low}..{high}")
        return number

    def optional_integer(self, key: str, low: int, high: int) -> int | None:
        """An optional integer within ``[low, high]``."""
        return self.integer(key, low, high) if self.get(key) is not None else None


def parse_timef(value: str) -> float:
    """``yymmddhhmmssff`` (UTC, ``ff`` in 10 ms) to epoch seconds."""
    if len(value) != 14 or not value.isdigit():
        raise BadRequestError(f"TIMEF={value} is not yymmddhhmmssff")
    parts = [int(value[pos : pos + 2]) for pos in range(0, 14, 2)]
    try:
        year, month, day, hour, minute, second = parts[:6]
        moment = datetime(2000 + year, month, day, hour, minute, second, tzinfo=UTC)
    except ValueError:
        raise BadRequestError(f"TIMEF={value} is not a date") from None
    return moment.timestamp() + parts[6] / 100


def parse_download_time(key: str, value: str) -> float:
    """``yymmddhhmmss`` (UTC, ``ss`` fixed 00) to epoch seconds."""
    if len(value) != 12 or not value.isdigit() or value[10:] != "00":
        raise BadRequestError(f"{key}={value} is not yymmddhhmm00")
    return parse_timef(value + "00")


def _html_lines(*lines: str) -> bytes:
    return ("\r\n".join(["<HTML>", *lines, "</HTML>"]) + "\r\n").encode()


def _response(
    body: bytes,
    content_type: str = "text/html",
    *,
    status: int = 200,
    header: str = "Content-type",
) -> web.Response:
    """A complete answer, with the header spelling the spec shows for that CGI."""
    return web.Response(
        body=body, status=status, headers={header: content_type, "Cache-Control": "no-cache"}
    )


class PartWriter:
    """Writes multipart parts of a streamed answer, applying the stream fault knobs."""

    def __init__(
        self, request: web.Request, response: web.StreamResponse, boundary: str, faults: Faults
    ) -> None:
        self._request = request
        self._response = response
        self._boundary = boundary
        self._faults = faults
        self.parts = 0
        self.sent = 0

    def _drop(self) -> None:
        transport = self._request.transport
        if transport is not None:
            transport.close()
        raise DroppedError

    async def _write(self, data: bytes) -> None:
        limit = self._faults.drop_after_bytes
        if limit is not None and self.sent + len(data) >= limit:
            await self._response.write(data[: max(0, limit - self.sent)])
            self.sent = limit
            self._drop()
        await self._response.write(data)
        self.sent += len(data)

    async def part(
        self,
        content_type: str,
        body: bytes,
        extra: Sequence[tuple[str, str]] = (),
        *,
        sized: bool = True,
    ) -> None:
        """Write one part: Content-type, Content-Length if ``sized``, extra headers, body."""
        faults = self._faults
        if faults.drop_after_parts is not None and self.parts >= faults.drop_after_parts:
            self._drop()
        length = len(body)
        if faults.huge_content_length and self.parts == 0:
            length = HUGE_CONTENT_LENGTH
        headers = [("Content-type", content_type)]
        if sized:
            headers.append(("Content-Length", str(length)))
        headers += extra
        data = multipart_part(self._boundary, headers, body)
        if faults.truncate_after_parts is not None and self.parts >= faults.truncate_after_parts:
            await self._write(data[: len(data) // 2])
            self._drop()
        await self._write(data)
        self.parts += 1

    async def end(self) -> None:
        """Write the closing delimiter of a finite multipart answer."""
        await self._write(multipart_end(self._boundary))


type Handler = Callable[[web.Request, Params], Awaitable[web.StreamResponse]]


class NvrSimulator:
    """A simulated i-PRO NVR. ``async with NvrSimulator(config) as sim: ...``."""

    def __init__(self, config: SimulatorConfig | None = None) -> None:
        self.config = config if config is not None else SimulatorConfig()
        config = self.config
        self.faults = Faults()
        self.requests: list[RequestRecord] = []
        self.tz = TimeZone(config.tz_offset_minutes, config.summer_time)
        self._rng = random.Random(config.seed)  # noqa: S311 - simulation, not security
        self.sessions = SessionManager(
            lifetime=config.uid_lifetime,
            max_uids=config.max_uids,
            digits=config.uid_digits,
            rng=self._rng,
        )
        self.event_log = LogBook(config.log_max)
        self.error_log = LogBook(config.log_max)
        self.camera_control = {cam: CameraControlState() for cam in range(1, config.cameras + 1)}
        self.cameras = CameraTable(
            {cam: config.status_of(cam) for cam in range(1, config.cameras + 1)}
        )
        self.boot_time = time.time()
        self.recording = Recording(config, self.tz, self.boot_time, self.cameras)
        self.auth = Authenticator(
            scheme=config.auth,
            username=config.username,
            password=config.password,
            realm=config.realm,
            algorithms=config.digest_algorithms,
        )
        self.active_downloads = 0
        self._host = "127.0.0.1"
        self._port = 0
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None
        self._ssl: ssl.SSLContext | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stream_tasks: set[asyncio.Task[None]] = set()
        self._reboot_task: asyncio.Task[None] | None = None
        self._up = False
        self._routes: dict[str, Handler] = {
            "dlogin.cgi": self._dlogin,
            "logout.cgi": self._logout,
            "status.cgi": self._status,
            "hdrctl.cgi": self._hdrctl,
            "push.cgi": self._push,
            "camera.cgi": self._camera_cgi,
            "playaudio.cgi": self._playaudio,
            "directctrl.cgi": self._directctrl,
            "camctl.cgi": self._camctl,
            "loglist.cgi": self._loglist,
            "as_getinfo.cgi": self._getinfo,
            "recordedtime.cgi": self._recordedtime,
            "httpdl.cgi": self._httpdl,
        }
        self._seed_logs()

    # ------------------------------------------------------------------ lifecycle

    @property
    def host(self) -> str:
        """The address the simulator listens on."""
        return self._host

    @property
    def port(self) -> int:
        """The TCP port (the real one when started with port 0)."""
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` (``https`` with ``ssl``)."""
        scheme = "https" if self.config.ssl else "http"
        return f"{scheme}://{self._host}:{self._port}"

    @property
    def is_up(self) -> bool:
        """False while stopped or rebooting."""
        return self._up

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        """Encode the media, then listen on ``host:port`` (0 picks a free port)."""
        await asyncio.to_thread(self._prewarm)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        if self.config.ssl:
            self._ssl = await asyncio.to_thread(self_signed_context)
        self._host = host
        await self._listen(port)
        reaper = asyncio.create_task(self._reap())
        self._tasks.append(reaper)
        cameras = self.cameras.registered
        if self.config.event_interval:
            grower = LogGrower(
                self.event_log, EVENT_KINDS, self.config.event_interval, cameras, self._rng
            )
            self._tasks.append(asyncio.create_task(grower.run()))
        if self.config.error_interval:
            grower = LogGrower(
                self.error_log, ERROR_KINDS, self.config.error_interval, cameras, self._rng
            )
            self._tasks.append(asyncio.create_task(grower.run()))
        _LOGGER.info("i-PRO NVR simulator %s listening on %s", self.config.model, self.url)

    async def _listen(self, port: int) -> None:
        assert self._runner is not None
        assert self._runner.server is not None
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self._runner.server, self._host, port, ssl=self._ssl, reuse_address=True
        )
        self._port = self._server.sockets[0].getsockname()[1]
        self._up = True

    def _prewarm(self) -> None:
        """Encode every clip the configuration needs, off the event loop."""
        for cam in self.cameras.registered():
            self.recording.clip(cam)
            if self.config.has_jpeg(cam):
                self.recording.jpeg_clip()
            self.recording.audio_clip(cam)
        MediaLibrary.placeholder()

    def _close_connections(self) -> None:
        """Stop listening and cut every open connection."""
        self._up = False
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None and self._runner.server is not None:
            for connection in self._runner.server.connections:
                if connection.transport is not None:
                    connection.transport.abort()

    async def stop(self) -> None:
        """Stop serving and release everything."""
        tasks = [*self._tasks, *self._stream_tasks]
        if self._reboot_task is not None:
            tasks.append(self._reboot_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.sessions.invalidate_all()
        self._close_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _reap(self) -> None:
        """Expire unused UIDs promptly, so their streams end and USEDUID is right."""
        interval = min(1.0, self.config.uid_lifetime / 4)
        while True:
            await asyncio.sleep(interval)
            self.sessions.expire()

    # ------------------------------------------------------------------ knobs for tests

    def invalidate_uids(self) -> None:
        """Invalidate every UID now, as another client's logins past the limit would."""
        self.sessions.invalidate_all()

    def reboot(self, downtime: float | None = None) -> None:
        """Drop every session, stream and connection; refuse connections for a while."""
        downtime = self.config.reboot_downtime if downtime is None else downtime
        if self._reboot_task is not None:
            self._reboot_task.cancel()
        self.sessions.invalidate_all()
        self.auth.rotate()
        self._close_connections()
        self._reboot_task = asyncio.get_running_loop().create_task(self._come_back(downtime))

    async def _come_back(self, downtime: float) -> None:
        await asyncio.sleep(downtime)
        await self._listen(self._port)
        self.boot_time = time.time()
        _LOGGER.info("simulator back after reboot on %s", self.url)

    async def wait_until_up(self) -> None:
        """Return once a reboot is over."""
        if self._reboot_task is not None:
            await self._reboot_task

    def add_event(
        self, kind: str, camera: int | None = None, at: datetime | float | None = None
    ) -> None:
        """Add an event log entry; with ``camera`` the text is ``<kind>-<camera>``."""
        text = kind if camera is None else f"{kind}-{camera}"
        self.event_log.add(text, _epoch(at))

    def add_error(
        self, kind: str, camera: int | None = None, at: datetime | float | None = None
    ) -> None:
        """Add an error log entry; with ``camera`` the text is ``CAM <camera> <kind>``."""
        text = kind if camera is None else f"CAM {camera} {kind}"
        self.error_log.add(text, _epoch(at))

    def clear_logs(self) -> None:
        """Empty both logs."""
        self.event_log.clear()
        self.error_log.clear()

    def set_camera_status(self, camera: int, status: int, *, log: bool = True) -> None:
        """Register, unregister, disconnect or reconnect a camera while running.

        Its live streams end unless it is normal; with ``log`` a change between normal
        and connection error adds ``CAM n COMMUNICATION ERROR`` / ``RECOVERED``.
        """
        previous = self.cameras.set(camera, status)
        if status != STATUS_NORMAL:
            for session in self.sessions.sessions:
                for key in [key for key in session.streams if key[0] == camera]:
                    session.streams.pop(key).stop()
        if log and {previous, status} == {STATUS_NORMAL, STATUS_CONNECTION_ERROR}:
            kind = "ERROR" if status == STATUS_CONNECTION_ERROR else "RECOVERED"
            self.add_error(f"COMMUNICATION {kind}", camera=camera)

    def login_other_clients(self, count: int = 1) -> list[str]:
        """Take UIDs as other clients (the NVR's web page, VMS software) would."""
        return [self.sessions.issue()[0].uid for _ in range(count)]

    def active_streams(self) -> list[StreamHandle]:
        """Every live stream running now, on any UID."""
        return [handle for s in self.sessions.sessions for handle in s.streams.values()]

    def assert_paced(
        self, command_interval: float, control_interval: float, tolerance: float = 0.01
    ) -> None:
        """Raise AssertionError listing requests that came too soon after the previous one.

        Commands (all but camera control and playback data) must be ``command_interval``
        apart; camera control (``camctl.cgi``, ``directctrl.cgi``) ``control_interval``
        apart on its own lane. Requests answered 401 (the challenge round of HTTP
        authentication) are not commands.
        """
        violations = []
        last: dict[str, RequestRecord] = {}
        for record in self.requests:
            if record.status == 401 or record.cgi in STREAM_DATA_CGIS:
                continue
            lane = "control" if record.cgi in CONTROL_CGIS else "command"
            interval = control_interval if lane == "control" else command_interval
            previous = last.get(lane)
            if previous is not None and record.time - previous.time < interval - tolerance:
                violations.append(
                    f"{record.cgi} came {record.time - previous.time:.3f} s after "
                    f"{previous.cgi} ({lane} lane needs {interval} s)"
                )
            last[lane] = record
        if violations:
            raise AssertionError("requests not paced:\n" + "\n".join(violations))

    # ------------------------------------------------------------------ helpers

    def _seed_logs(self) -> None:
        """A few entries from before boot, so a first poll has something to show."""
        for count, log, kinds in (
            (self.config.initial_events, self.event_log, EVENT_KINDS),
            (self.config.initial_errors, self.error_log, ERROR_KINDS),
        ):
            grower = LogGrower(log, kinds, 1.0, self.cameras.registered, self._rng)
            for number in range(count):
                log.add(grower.random_kind(), self.boot_time - 600.0 * (count - number))

    def _session(self, params: Params) -> Session:
        session = self.sessions.use(params.require("UID"))
        if session is None:
            raise SessionLostError
        return session

    def _camera_number(self, params: Params, key: str = "CAM") -> int:
        camera = params.integer(key, 1, self.config.cameras)
        if self.cameras.status(camera) == 0:
            raise BadRequestError(f"camera {camera} is not registered")
        return camera

    def _text(
        self, text: str, content_type: str = "text/html", header: str = "Content-type"
    ) -> web.Response:
        """A text answer, with bare LF line ends when so configured."""
        if self.config.bare_lf:
            text = text.replace("\r\n", "\n")
        return _response(text.encode(), content_type, header=header)

    def _ack(self) -> web.Response:
        """The answer to commands whose answer the spec does not show."""
        return self._text("<HTML>\r\nOK\r\n</HTML>\r\n")

    def _session_lost(self) -> web.Response:
        answer = self.config.invalid_uid_answer
        if answer == "403":
            return _response(_html_lines("403 Forbidden"), status=403)
        if answer == "empty":
            return _response(b"")
        return self._text(session_lost_page(self.config.model))

    def _garbage(self, cgi: str) -> web.Response:
        size = self._rng.randint(64, 512)
        content_type = {
            "push.cgi": self._multipart_type(),
            "httpdl.cgi": self._download_type(),
            "camera.cgi": "application/octet-stream",
            "playaudio.cgi": "application/octet-stream",
            "recordedtime.cgi": "text/plain",
        }.get(cgi, "text/html")
        return _response(os.urandom(size), content_type)

    def _multipart_type(self) -> str:
        if self.config.boundary_in_header:
            return f"multipart/x-mixed-replace; boundary={self.config.multipart_boundary}"
        return "multipart/x-mixed-replace"

    def _download_type(self) -> str:
        if self.config.download_content_type is not None:
            return self.config.download_content_type
        if self.config.boundary_in_header:
            return f"multipart/form-data; boundary={self.config.multipart_boundary}"
        return "multipart/form-data"

    def _unauthorized(self, stale: bool) -> web.Response:
        headers: CIMultiDict[str] = CIMultiDict()
        for challenge in self.auth.challenges(stale):
            headers.add("WWW-Authenticate", challenge)
        headers["Content-Type"] = "text/html"
        return web.Response(status=401, body=_html_lines("401 Unauthorized"), headers=headers)

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        params = Params(parse_query(request.rel_url.raw_query_string))
        record = RequestRecord(
            time=time.monotonic(),
            method=request.method,
            path=request.path,
            query=list(params.pairs),
            uid=params.get("UID"),
        )
        self.requests.append(record)
        request["record"] = record
        response = await self._process(request, params, record)
        if record.status is None:
            record.status = response.status
        return response

    def _authorized(self, request: web.Request, params: Params) -> web.Response | None:
        """None when the request may go on, else the 401 answer."""
        if self.faults.reject_credentials:
            return self._unauthorized(stale=False)
        result = self.auth.check(
            request.method, request.raw_path, request.headers.get("Authorization")
        )
        if result.ok:
            return None
        if self.config.uid_skips_auth and self.sessions.peek(params.get("UID")) is not None:
            return None
        return self._unauthorized(stale=result.stale)

    async def _process(
        self, request: web.Request, params: Params, record: RequestRecord
    ) -> web.StreamResponse:
        delay = self.faults.delay_for(request.path)
        if delay > 0:
            await asyncio.sleep(delay)
        refused = self._authorized(request, params)
        if refused is not None:
            return refused
        handler = self._routes.get(record.cgi) if request.path.startswith("/cgi-bin/") else None
        if handler is None or request.method != "GET":
            status = 404 if handler is None else 405
            return _response(_html_lines(f"{status} {request.path}"), status=status)
        error = self.faults.take_error(request.path)
        if error is not None:
            return _response(_html_lines(f"{error} Error"), status=error)
        if self.faults.take_garbage(request.path):
            return self._garbage(record.cgi)
        try:
            response = await handler(request, params)
        except BadRequestError as exc:
            _LOGGER.debug("400 for %s: %s", request.path_qs, exc)
            return _response(_html_lines(f"400 Bad Request: {exc}"), status=400)
        except SessionLostError:
            return self._session_lost()
        cut = self.faults.truncate_text.get(record.cgi)
        if cut is not None and isinstance(response, web.Response):
            body = response.body
            if isinstance(body, bytes):
                response.body = body[:cut]
        return response

    # ------------------------------------------------------------------ session CGIs

    async def _dlogin(self, request: web.Request, params: Params) -> web.StreamResponse:
        params.fixed("UID", "-1")
        if self.faults.no_free_uid or (self.config.refuse_when_full and self.sessions.full):
            return _response(_html_lines("503 Service Unavailable"), status=503)
        session, evicted = self.sessions.issue()
        if evicted is not None:
            _LOGGER.debug("UID %s evicted by a new login", evicted.uid)
        return self._text(login_page(self.config.model, session.uid))

    async def _logout(self, request: web.Request, params: Params) -> web.StreamResponse:
        if not self.sessions.logout(params.require("UID")):
            raise SessionLostError
        return self._ack()

    async def _status(self, request: web.Request, params: Params) -> web.StreamResponse:
        self._session(params)
        params.fixed("PC", "AS60")
        return self._ack()

    # ------------------------------------------------------------------ recorder control

    async def _hdrctl(self, request: web.Request, params: Params) -> web.StreamResponse:
        session = self._session(params)
        if "SCREEN" in params:
            params.fixed("PC", "AS60")
            screen = params.require("SCREEN")
            if not (screen.endswith("X") and screen[:-1].isdigit()):
                raise BadRequestError(f"SCREEN={screen} is not nnX")
            if session.playback.active:
                raise BadRequestError("stop playback before setting up live on this UID")
            session.live_ready = True
            return self._ack()
        if "PLAYCMD" in params:
            self._playcmd(session, params)
            return self._ack()
        if "MASK" in params:
            params.fixed("PC", "AS60")
            mask = params.require("MASK")
            if len(mask) != self.config.cameras or set(mask) - {"0", "1"}:
                raise BadRequestError(f"MASK needs {self.config.cameras} digits 0/1")
            if mask.count("1") > self.config.max_streams_per_uid:
                raise BadRequestError("too many cameras to play back on this UID")
            session.playback.mask = frozenset(
                pos + 1 for pos, digit in enumerate(mask) if digit == "1"
            )
            return self._ack()
        if "HTML" in params:
            return self._ack()
        raise BadRequestError("hdrctl.cgi needs SCREEN, MASK or PLAYCMD")

    def _playcmd(self, session: Session, params: Params) -> None:
        command = params.choice(
            "PLAYCMD",
            ("PLAY", "BPLAY", "PAUSE", "NEXTFRAME", "PREVFRAME", "GOTODATE", "FF", "REW", "STOP"),
        )
        params.fixed("PC", "AS60")
        params.fixed("2ND", "OFF")
        if command != "STOP":
            params.fixed("NOTIME", "ON")
        if command in ("PAUSE", "FF", "REW"):
            params.fixed("SMOOTH", "OFF")
        if command == "GOTODATE":
            params.fixed("SDBACKUP", "0")
        if session.streams:
            raise BadRequestError("stop live streams before playback on this UID")
        playback = session.playback
        if command == "STOP":
            parse_timef(params.require("TIMEF"))
            playback.control(None, playback.position)
            return
        if not playback.mask:
            raise BadRequestError("send MASK before playback")
        session.live_ready = False
        if command == "PLAY":
            params.fixed("TIMEF", "AS60_UNKNOWN")
            if playback.active:
                playback.mode = PlayMode.PLAY
                playback.speed = 0
                return
            position = playback.position or time.time() - PLAY_DEFAULT_BACK
            playback.control(PlayMode.PLAY, position)
            return
        position = parse_timef(params.require("TIMEF"))
        mode = PlayMode.PLAY if command == "GOTODATE" else PlayMode(command)
        playback.control(mode, position)

    # ------------------------------------------------------------------ live

    async def _push(self, request: web.Request, params: Params) -> web.StreamResponse:
        session = self._session(params)
        camera = self._camera_number(params)
        command = params.choice("CMD", ("START", "STOP"))
        comp = params.choice("COMP", ("H264", "H265", "JPEG", "AUDIO"))
        port = None
        if "PORT" in params:
            port = params.integer("PORT", 1, 65535)
        elif command == "START" or "INTERNETMODE" in params:
            params.fixed("INTERNETMODE", "ON")
        kind = "audio" if comp == "AUDIO" else "video"
        if command == "STOP":
            keys = [(camera, "audio")] + ([(camera, "video")] if kind == "video" else [])
            for key in keys:
                handle = session.streams.pop(key, None)
                if handle is not None:
                    handle.stop()
            return self._ack()
        if self.faults.push_start_204:
            return web.Response(status=204)
        handle = self._new_stream(session, camera, comp, port)
        if port is not None:
            host = request.remote or "127.0.0.1"
            handle.task = asyncio.create_task(self._udp_stream(session, handle, host, port))
            self._stream_tasks.add(handle.task)
            handle.task.add_done_callback(self._stream_tasks.discard)
            return self._ack()
        return await self._http_stream(request, session, handle)

    def _new_stream(
        self, session: Session, camera: int, comp: str, port: int | None
    ) -> StreamHandle:
        """Check the spec's streaming rules and register the stream on the UID."""
        config = self.config
        if config.require_setup_live and not session.live_ready:
            raise BadRequestError("send hdrctl.cgi SCREEN=16X before push.cgi START")
        if session.playback.active:
            raise BadRequestError("live and playback cannot share a UID")
        if self.cameras.status(camera) != STATUS_NORMAL:
            raise BadRequestError(f"camera {camera} has a connection error")
        if comp == "AUDIO":
            if (camera, "video") not in session.streams:
                raise BadRequestError("start video before audio")
            if config.audio is None or not config.has_audio(camera):
                raise BadRequestError(f"camera {camera} has no audio")
            if (camera, "audio") in session.streams:
                raise BadRequestError(f"audio of camera {camera} already streams on this UID")
            codec: str = config.audio
        else:
            if (camera, "video") in session.streams:
                raise BadRequestError(f"camera {camera} already streams on this UID")
            if session.video_streams >= config.max_streams_per_uid:
                raise BadRequestError("too many streams on this UID")
            codec = self._live_codec(camera, comp, port)
        handle = StreamHandle(
            camera=camera, kind="audio" if comp == "AUDIO" else "video", codec=codec, udp_port=port
        )
        session.streams[(camera, handle.kind)] = handle
        return handle

    def _live_codec(self, camera: int, comp: str, port: int | None) -> str:
        own = self.config.codec_of(camera)
        if comp == "JPEG":
            if port is not None:
                raise BadRequestError("JPEG is not streamed over RTP")
            return "JPEG"
        if own == "JPEG":
            raise BadRequestError(f"camera {camera} has no {comp} stream")
        if comp != own and self.config.strict_codec:
            raise BadRequestError(f"camera {camera} streams {own}, not {comp}")
        return own

    def _end_stream(self, session: Session, handle: StreamHandle) -> None:
        handle.stop()
        key = (handle.camera, handle.kind)
        if session.streams.get(key) is handle:
            del session.streams[key]

    async def _http_stream(
        self, request: web.Request, session: Session, handle: StreamHandle
    ) -> web.StreamResponse:
        config = self.config
        placeholder = handle.codec == "JPEG" and not config.has_jpeg(handle.camera)
        if placeholder and config.placeholder_single:
            self._end_stream(session, handle)
            return _response(MediaLibrary.placeholder(), "image/jpeg")
        response = web.StreamResponse(
            headers={"Content-Type": self._multipart_type(), "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        request["record"].status = response.status
        writer = PartWriter(request, response, config.multipart_boundary, self.faults)
        try:
            if handle.kind == "audio":
                await self._send_audio(handle, writer)
            elif handle.codec == "JPEG":
                await self._send_jpeg(handle, writer)
            else:
                await self._send_video(handle, writer)
        except ConnectionError, DroppedError:
            _LOGGER.debug("live stream of camera %s ended by the connection", handle.camera)
        finally:
            self._end_stream(session, handle)
        return response

    async def _video_packets(self, handle: StreamHandle) -> AsyncIterator[list[bytes]]:
        """RTP packets of the camera's live video, paced by the frame clock."""
        config = self.config
        clip = self.recording.clip(handle.camera)
        rtp = RtpState()
        started = not config.live_start_on_idr
        async for index, capture in frame_ticks(
            config.fps, realtime=config.realtime, speed=config.speed, stopped=handle.stopped
        ):
            started = started or clip.frame(index).keyframe
            if started:
                yield video_packets(
                    clip,
                    index=index,
                    capture=capture,
                    camera=handle.camera,
                    rtp=rtp,
                    config=config,
                    tz=self.tz,
                )

    async def _send_video(self, handle: StreamHandle, writer: PartWriter) -> None:
        async for packets in self._video_packets(handle):
            for packet in packets:
                await writer.part("application/octet-stream", packet)

    async def _send_jpeg(self, handle: StreamHandle, writer: PartWriter) -> None:
        config = self.config
        real = config.has_jpeg(handle.camera)
        clip = self.recording.jpeg_clip()
        async for _, capture in frame_ticks(
            config.jpeg_fps, realtime=config.realtime, speed=config.speed, stopped=handle.stopped
        ):
            jpeg = clip.frame(round(capture * config.fps)).data if real else None
            picture = jpeg if jpeg is not None else MediaLibrary.placeholder()
            body = jpeg_body(picture, handle.camera, capture, config, self.tz)
            await writer.part("image/jpeg", body)

    async def _send_audio(self, handle: StreamHandle, writer: PartWriter) -> None:
        clip = self.recording.audio_clip(handle.camera)
        assert clip is not None
        content_type = AUDIO_CONTENT_TYPES[clip.codec]
        async for index, _ in frame_ticks(
            1.0 / clip.frame_duration,
            realtime=self.config.realtime,
            speed=self.config.speed,
            stopped=handle.stopped,
        ):
            await writer.part(content_type, b"\x00" + clip.frame(index))

    async def _udp_stream(
        self, session: Session, handle: StreamHandle, host: str, port: int
    ) -> None:
        """RTP over UDP to the requester's address and ``PORT``."""
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=(host, port)
        )
        try:
            if handle.kind == "video":
                async for packets in self._video_packets(handle):
                    for packet in packets:
                        transport.sendto(packet)
            else:
                clip = self.recording.audio_clip(handle.camera)
                assert clip is not None
                rtp = RtpState()
                async for index, capture in frame_ticks(
                    1.0 / clip.frame_duration,
                    realtime=self.config.realtime,
                    speed=self.config.speed,
                    stopped=handle.stopped,
                ):
                    transport.sendto(
                        audio_rtp_packet(clip, clip.frame(index), capture, rtp, self.tz)
                    )
        finally:
            transport.close()
            self._end_stream(session, handle)

    # ------------------------------------------------------------------ playback data

    def _playback_camera(self, params: Params) -> tuple[Session, int]:
        session = self._session(params)
        camera = self._camera_number(params)
        if not session.playback.active:
            raise BadRequestError("playback is not started on this UID")
        if camera not in session.playback.mask:
            raise BadRequestError(f"camera {camera} is not in MASK")
        return session, camera

    async def _camera_cgi(self, request: web.Request, params: Params) -> web.StreamResponse:
        session, camera = self._playback_camera(params)
        playback = session.playback
        recording = self.recording
        index = recording.unit_index(camera, playback.cursors.get(camera, playback.position))
        unit = recording.unit(camera, index)
        assert playback.mode is not None
        body = recording.gop_bytes(camera, unit, STATUS_BY_MODE[playback.mode], playback.speed)
        seconds = recording.unit_seconds(camera)
        playback.cursors[camera] = (index + playback.step() + 0.5) * seconds
        return _response(body, "application/octet-stream")

    async def _playaudio(self, request: web.Request, params: Params) -> web.StreamResponse:
        session, camera = self._playback_camera(params)
        if not self.config.has_audio(camera):
            raise BadRequestError(f"camera {camera} records no audio")
        playback = session.playback
        second = self.recording.audio_second(playback.audio_cursors.get(camera, playback.position))
        body = self.recording.audio_block(camera, second)
        playback.audio_cursors[camera] = second + playback.step() + 0.5
        return _response(body, "application/octet-stream")

    # ------------------------------------------------------------------ camera control

    async def _directctrl(self, request: web.Request, params: Params) -> web.StreamResponse:
        self._session(params)
        camera = self._camera_number(params, "CH")
        pan = params.optional_integer("PAN", -256, 256)
        tilt = params.optional_integer("TILT", -256, 256)
        zoom = params.optional_integer("ZOOM", -4, 4)
        params.fixed("PC", "AS60")
        state = self.camera_control[camera]
        state.commands.append(f"PTZ PAN={pan} TILT={tilt} ZOOM={zoom}")
        if camera in self.config.ptz_cameras:
            state.pan, state.tilt, state.zoom = pan or 0, tilt or 0, zoom or 0
            if pan or tilt or zoom:
                state.moves += 1
        return self._ack()

    async def _camctl(self, request: web.Request, params: Params) -> web.StreamResponse:
        self._session(params)
        camera = self._camera_number(params, "CH")
        command = params.require("CMD")
        params.fixed("PC", "AS60")
        state = self.camera_control[camera]
        ptz = camera in self.config.ptz_cameras
        controls = params.getall("CTRL")
        if command == "CENTERING":
            if controls != ["START"]:
                raise BadRequestError("CENTERING needs CTRL=START")
            x = params.integer("X", 0, 65535)
            y = params.integer("Y", 0, 65535)
            if ptz:
                state.centering = (x, y)
        elif command in ("FOCUS", "IRIS"):
            actions = ("FAR", "NEAR", "AUTO") if command == "FOCUS" else ("OPEN", "CLOSE", "RESET")
            if len(controls) != 2 or controls[0] not in actions or controls[1] != "START":
                raise BadRequestError(f"{command} needs CTRL=<{'|'.join(actions)}>&CTRL=START")
            if ptz and command == "FOCUS":
                state.focus = controls[0]
            elif ptz:
                state.iris = controls[0]
        elif command in ("PRESETPRG", "PRESET"):
            number = params.integer("NO", 1, 256)
            if ptz and command == "PRESETPRG":
                state.presets.add(number)
            elif ptz:
                state.current_preset = number
        elif command.startswith("AUX") and command[3:] in {str(n) for n in range(1, 9)}:
            if controls not in (["OPEN"], ["CLOSE"]):
                raise BadRequestError(f"{command} needs CTRL=OPEN or CTRL=CLOSE")
            state.aux[int(command[3:])] = controls[0] == "OPEN"
        else:
            raise BadRequestError(f"unknown CMD={command}")
        state.commands.append(" ".join([command, *controls, *params.getall("NO")]))
        return self._ack()

    # ------------------------------------------------------------------ information

    async def _loglist(self, request: web.Request, params: Params) -> web.StreamResponse:
        self._session(params)
        kind = params.choice("KIND", ("ERR", "EVENT"))
        log = self.error_log if kind == "ERR" else self.event_log
        params.fixed("HTML", "as_errorlog.html" if kind == "ERR" else "as_eventlog.html")
        text = log_list_text(kind, log.lines(self.tz), self.config.log_wrap_width)
        return self._text(text)

    async def _getinfo(self, request: web.Request, params: Params) -> web.StreamResponse:
        params.fixed("FILE", "2")
        self.sessions.use(params.get("UID"))
        text = camera_connection_text(
            self.cameras.snapshot(), self.config.max_uids, self.sessions.count
        )
        return self._text(text, header="Content-Type")

    async def _recordedtime(self, request: web.Request, params: Params) -> web.StreamResponse:
        now = time.time()
        lines = [
            DiskLine(
                name=disk.name,
                capacity_gb=disk.capacity_gb,
                flag=disk.flag,
                remain_gb=disk.remain_gb,
                oldest=self.tz.local(self.recording.start) if disk.recording else None,
                newest=self.tz.local(now) if disk.recording else None,
                summer=self.tz.summer,
            )
            for disk in self.config.disks
        ]
        return self._text(hdd_text(lines), "text/plain")

    # ------------------------------------------------------------------ download

    async def _httpdl(self, request: web.Request, params: Params) -> web.StreamResponse:
        self._session(params)
        start = parse_download_time("STARTTIME", params.require("STARTTIME"))
        end = parse_download_time("ENDTIME", params.require("ENDTIME"))
        kind = params.choice("KIND", tuple(DOWNLOAD_EXTENSIONS))
        camera = params.integer("CAM", 1, self.config.cameras)
        params.fixed("PC", "AS60")
        if end < start:
            raise BadRequestError("ENDTIME is before STARTTIME")
        if end - start > 3600:
            raise BadRequestError("ENDTIME is more than 1 hour after STARTTIME")
        if end == start:
            return _response(b"", "application/octet-stream")
        response = web.StreamResponse(
            headers={"Content-Type": self._download_type(), "Cache-Control": "no-cache"}
        )
        status = 0
        recorded = self.recording.recorded(camera) and bool(
            self.recording.video_frames(camera, start, end)
        )
        if self.active_downloads >= self.config.max_downloads:
            status = 3
        elif not recorded:
            status = 1
        elif kind in ("MP4", "MP4VO") and self.recording.codec(camera) == "JPEG":
            status = 2
        await response.prepare(request)
        request["record"].status = response.status
        if self.faults.download_answer is not None:
            with contextlib.suppress(ConnectionError):
                await response.write(self.faults.download_answer)
            return response
        writer = PartWriter(request, response, self.config.multipart_boundary, self.faults)
        try:
            if status:
                await self._download_part(writer, "", "", status, b"")
                await writer.end()
                return response
            self.active_downloads += 1
            try:
                await self._send_files(writer, camera, start, end, kind)
            finally:
                self.active_downloads -= 1
        except ConnectionError, DroppedError:
            _LOGGER.debug("download of camera %s ended by the connection", camera)
        return response

    async def _download_part(
        self, writer: PartWriter, temp: str, previous: str, status: int, body: bytes
    ) -> None:
        await writer.part(
            "application/octet-stream",
            body,
            [
                ("X-Temp-FileName", filename_header(temp)),
                ("X-Prev-Filename", filename_header(previous)),
                (self.config.download_status_header, str(status)),
            ],
            sized=self.config.download_content_length,
        )

    def _file_ranges(self, camera: int, start: float, end: float) -> list[tuple[float, float]]:
        frames = self.recording.video_frames(camera, start, end)
        begin = frames[0].time
        finish = frames[-1].time + 1.0 / self.config.fps
        count = self.faults.download_split_files or max(
            1, math.ceil((finish - begin) / self.config.download_file_seconds - 1e-9)
        )
        step = (finish - begin) / count
        gop = float(self.config.gop_seconds)
        edges = [begin] + [
            max(begin, math.floor((begin + step * n) / gop) * gop) for n in range(1, count)
        ]
        edges.append(finish)
        return [(a, b) for a, b in itertools.pairwise(edges) if b > a]

    def _file_bytes(self, camera: int, begin: float, end: float, kind: str) -> bytes:
        if kind in ("MP4", "MP4VO"):
            return self.recording.mp4(camera, begin, end, with_audio=kind == "MP4")
        if kind in ("N3", "N3VO"):
            return self.recording.n3(camera, begin, end)
        local = self.tz.local
        return (
            f"CAM,{camera}\r\nSTART,{local(begin):%Y/%m/%d %H:%M:%S}\r\n"
            f"END,{local(end):%Y/%m/%d %H:%M:%S}\r\n"
        ).encode()

    async def _send_files(
        self, writer: PartWriter, camera: int, start: float, end: float, kind: str
    ) -> None:
        config = self.config
        extension = DOWNLOAD_EXTENSIONS[kind]
        previous = ""
        for number, (begin, finish) in enumerate(self._file_ranges(camera, start, end), 1):
            stem = (
                self.faults.download_file_name
                or download_name(camera, self.tz.local(begin), number, extension).rsplit(".", 1)[0]
            )
            data = await asyncio.to_thread(self._file_bytes, camera, begin, finish, kind)
            temp = f"{stem}.tmp"
            part_size = config.download_part_size or max(1, len(data))
            for offset in range(0, max(1, len(data)), part_size):
                chunk = data[offset : offset + part_size]
                await self._download_part(writer, temp, previous, 0, chunk)
                previous = ""
                if config.download_bytes_per_second:
                    await asyncio.sleep(len(chunk) / config.download_bytes_per_second)
            previous = f"{stem}.{extension}"
        await self._download_part(writer, "", previous, 0, b"")
        await writer.end()


def _epoch(at: datetime | float | None) -> float | None:
    if isinstance(at, datetime):
        return at.timestamp()
    return at
