"""The wire: URLs, pacing, authentication, sessions (UIDs), keep-alive, error mapping.

Everything that talks to the NVR goes through one :class:`Transport` per client, so
every request is paced by the same :class:`~.pacer.Pacer`, carries credentials, and maps
transport failures to :mod:`.errors` with a message a user can act on.

Lost sessions: another client's login can silently evict one of our UIDs (the NVR keeps
16). A request notices it by an HTTP error status, the login page instead of an answer
(no command answers with an HTML page), or an empty body where data was expected. An
empty body is not taken as a loss for commands that return no data (camera control,
recorder control, STOP, keep-alive): the spec does not show their answers, and an empty
acknowledgement must not re-send a PTZ move. The transport then logs that session in
again once and retries the request once; a second failure is
:class:`~.errors.IproSessionLostError`. Concurrent requests that see the same loss log
in only once. An HTTP error status alone is ambiguous (the NVR also answers a bad
request, such as audio of a camera without audio, with one), so the UID is first checked
with a keep-alive: if it is still valid the request fails with
:class:`~.errors.IproProtocolError` and the session is left alone - a new login would
orphan the streams running on the shared live UID.

A loss found costs no more slots of the 3 s lane than it must (an NVR reboot or an
eviction ends every live stream at once, and each slot delays every camera's return):
the session forgets the UID at once, and the requests already queued with it give their
places up instead of being sent - the login they need comes sooner, and a STOP meant for
a stream that died with the UID is not sent at all.

Keep-alive: a UID dies 90 s after its last use, and open streams do not count as use.
A background task, started with the first login and stopped by :meth:`close`, sends
``status.cgi`` for each UID in use that no other request used for ``keepalive_interval``
seconds - and only then, so a busy client sends none. After the NVR rejects the
credentials it pauses until a request is accepted again: repeating a changed password in
the background, forever, could lock the account.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
import contextlib
import logging
import time
from typing import Final

import aiohttp
from yarl import URL

from . import commands
from .auth import IproAuth
from .commands import CgiCommand
from .errors import (
    IproAuthError,
    IproBusyError,
    IproConnectionError,
    IproError,
    IproNoFreeSessionError,
    IproProtocolError,
    IproSessionLostError,
    IproTimeoutError,
)
from .models import NvrInfo
from .pacer import Pacer
from .session import SessionRole, UidSession, mask_uid
from .text import decode_text, is_login_page, parse_login

_LOGGER = logging.getLogger(__name__)

DEFAULT_KEEPALIVE_INTERVAL: Final = 45.0
MAX_TEXT_BYTES: Final = 4 * 1024 * 1024
READ_CHUNK: Final = 256 * 1024
_HTTP_NO_CONTENT: Final = 204
_HTTP_ERROR: Final = 400
_HTTP_UNAUTHORIZED: Final = 401
_HTTP_UNAVAILABLE: Final = 503


class UidLostError(Exception):
    """Internal signal: the answer suggests the UID is no longer valid.

    ``status`` is set when the sign is only an HTTP error status, which a bad request on
    a valid UID gives too.
    """

    def __init__(self, reason: str, *, status: int | None = None, cgi: str = "") -> None:
        super().__init__(reason)
        self.status = status
        self.cgi = cgi


class Transport:
    """HTTP(S) access to one NVR with pacing, auth and UID sessions."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        host: str,
        port: int | None,
        *,
        username: str,
        password: str,
        ssl: bool,
        verify_ssl: bool,
        pacer: Pacer | None,
        request_timeout: float,
        keepalive_interval: float = DEFAULT_KEEPALIVE_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if request_timeout <= 0:
            raise ValueError("request_timeout must be positive")
        self.http = session
        self.host = host
        self.port = port if port is not None else (443 if ssl else 80)
        self.use_ssl = ssl
        self.base_url = URL.build(scheme="https" if ssl else "http", host=host, port=self.port)
        # aiohttp's own cached contexts: True verifies, False does not. Building an
        # SSLContext here would load certificates in the event loop.
        self.ssl_param: bool = verify_ssl if ssl else True
        self.auth = IproAuth(username, password)
        self.pacer = pacer if pacer is not None else Pacer()
        self.request_timeout = request_timeout
        self.command_timeout = aiohttp.ClientTimeout(total=request_timeout)
        self.stream_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=request_timeout, sock_read=request_timeout
        )
        self.keepalive_interval = keepalive_interval
        self.clock = clock
        self.nvr_info: NvrInfo | None = None
        self.sessions: set[UidSession] = set()
        self.closing = False
        self.closed = False
        self.auth_rejected = False
        """Whether the last answer was a 401 (the keep-alive pauses meanwhile)."""
        self._keepalive_task: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        """Return ``host:port`` for messages (never with credentials)."""
        return f"{self.host}:{self.port}"

    # Requests

    def url(self, command: CgiCommand, uid: str | None) -> URL:
        """Return the URL of ``command``, its query string built in the spec's order."""
        query = command.query(uid)
        text = f"{self.base_url}{command.path}"
        return URL(f"{text}?{query}" if query else text, encoded=True)

    def _error(self, err: BaseException, command: CgiCommand) -> IproError:
        """Map an aiohttp/OS failure to an error that tells the user what to check."""
        where = self.where
        scheme = "HTTPS" if self.use_ssl else "HTTP"
        if isinstance(err, TimeoutError):
            return IproTimeoutError(
                f"The NVR at {where} did not answer {command.cgi} within "
                f"{self.request_timeout:g} s; check that it is on and not overloaded."
            )
        if isinstance(err, aiohttp.ClientConnectorCertificateError):
            return IproConnectionError(
                f"The TLS certificate of the NVR at {where} could not be verified; for a "
                "self-signed certificate turn certificate verification off."
            )
        if isinstance(err, (aiohttp.ClientSSLError, aiohttp.ClientConnectorSSLError)):
            return IproConnectionError(
                f"The TLS handshake with the NVR at {where} failed; check that the NVR "
                "uses HTTPS on this port."
            )
        if isinstance(err, aiohttp.ClientConnectorError):
            return IproConnectionError(
                f"Cannot connect to the NVR at {where} ({err.os_error.strerror or err}); "
                f"check the host name, the port and that the NVR serves {scheme} there."
            )
        return IproConnectionError(
            f"The connection to the NVR at {where} broke during {command.cgi} "
            f"({type(err).__name__}); check the network and whether the NVR serves "
            f"{scheme} on port {self.port}."
        )

    async def request(
        self,
        command: CgiCommand,
        uid: str | None = None,
        session: UidSession | None = None,
        *,
        stream: bool = False,
    ) -> aiohttp.ClientResponse:
        """Pace and send ``command``; the caller releases the response.

        A ``401`` left after answering the challenge is :class:`IproAuthError`. With a
        ``session``, a request whose ``uid`` the session loses while it waits for its slot
        is not sent: :class:`UidLostError`.
        """
        if self.closed:
            raise RuntimeError("the NVR client is closed")
        url = self.url(command, uid)
        async with contextlib.AsyncExitStack() as stack:
            if command.lane is not None:
                slot = self.pacer.slot(command.lane, command.path, priority=command.priority)
                if session is None or uid is None:
                    await stack.enter_async_context(slot)
                else:
                    await self._slot_while_held(stack, slot, session, uid)
            if session is not None:
                session.touch(self.clock())
            _LOGGER.debug("GET %s (%s session %s)", command.path, command.lane, mask_uid(uid))
            try:
                response = await self.http.get(
                    url,
                    middlewares=(self.auth,),
                    ssl=self.ssl_param,
                    timeout=self.stream_timeout if stream else self.command_timeout,
                )
            except (aiohttp.ClientError, TimeoutError, OSError) as err:
                raise self._error(err, command) from err
        self.auth_rejected = response.status == _HTTP_UNAUTHORIZED
        if self.auth_rejected:
            response.release()
            raise IproAuthError(
                f"The NVR at {self.where} rejected the user name or password; use the "
                "NVR's own user (for example ADMIN), not a camera's."
            )
        return response

    @staticmethod
    async def _slot_while_held(
        stack: contextlib.AsyncExitStack,
        slot: contextlib.AbstractAsyncContextManager[float],
        session: UidSession,
        uid: str,
    ) -> None:
        """Enter ``slot`` unless ``session`` leaves ``uid`` first: then give the place up.

        A waiter that gives its place up uses no slot; one handed the slot as the UID
        goes still uses it, but sends nothing.
        """
        entering = asyncio.ensure_future(stack.enter_async_context(slot))
        leaving = asyncio.ensure_future(session.left(uid))
        try:
            await asyncio.wait((entering, leaving), return_when=asyncio.FIRST_COMPLETED)
        finally:
            leaving.cancel()
            entering.cancel()
            await asyncio.gather(entering, leaving, return_exceptions=True)
        if entering.cancelled() or session.uid != uid:
            raise UidLostError("lost while the request waited for its turn")
        entering.result()

    async def read_body(
        self, response: aiohttp.ClientResponse, command: CgiCommand, limit: int | None = None
    ) -> bytes:
        """Read a whole body, mapping transport failures; ``limit`` caps text answers."""
        body = bytearray()
        try:
            async for chunk in response.content.iter_chunked(READ_CHUNK):
                body += chunk
                if limit is not None and len(body) > limit:
                    raise IproProtocolError(
                        f"The NVR's answer to {command.cgi} is larger than {limit} bytes."
                    )
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise self._error(err, command) from err
        return bytes(body)

    async def check_stream_start(
        self, response: aiohttp.ClientResponse, command: CgiCommand
    ) -> None:
        """Raise :class:`UidLostError` if a stream/data answer is an error or login page."""
        if response.status >= _HTTP_ERROR:
            response.release()
            raise UidLostError(f"HTTP {response.status}", status=response.status, cgi=command.cgi)
        if response.content_type.startswith("text/"):
            body = await self.read_body(response, command, MAX_TEXT_BYTES)
            response.release()
            if not body.strip() or is_login_page(body):
                raise UidLostError("login page instead of data")
            raise IproProtocolError(
                f"The NVR answered {command.cgi} with text instead of data: "
                f"{decode_text(body[:80])!r}."
            )
        if response.content_length == 0:
            response.release()
            raise UidLostError("empty answer")

    # Sessions

    def new_session(self, role: SessionRole) -> UidSession:
        """Return a session not yet logged in (call :meth:`acquire` to log in)."""
        session = UidSession(role=role)
        if role is SessionRole.LIVE:
            session.prepare.append(commands.setup_live())
        return session

    async def acquire(self, session: UidSession) -> str:
        """Return the UID of ``session``, logging in if it has none or it expired."""
        async with session.lock:
            if session.uid is None or session.expired(self.clock()):
                await self._login_locked(session)
            assert session.uid is not None
            return session.uid

    async def _login_locked(self, session: UidSession) -> None:
        if self.closing:
            # A login now would hold a UID nobody logs out.
            raise RuntimeError("the NVR client is closed")
        command = commands.login()
        response = await self.request(command)
        async with response:
            if response.status == _HTTP_UNAVAILABLE:
                raise IproNoFreeSessionError(
                    f"The NVR at {self.where} has no free session (16 at most, shared "
                    "with its web pages and other software); close some or wait 90 s."
                )
            if response.status >= _HTTP_ERROR:
                raise IproProtocolError(
                    f"The NVR at {self.where} answered the login with HTTP {response.status}."
                )
            body = await self.read_body(response, command, MAX_TEXT_BYTES)
        uid, info = parse_login(decode_text(body))
        session.replace(uid)
        session.touch(self.clock())
        self.nvr_info = info
        self.sessions.add(session)
        _LOGGER.debug("Logged in %s session %s", session.role, mask_uid(uid))
        self._start_keepalive()
        for command in session.prepare:
            try:
                await self._text_once(command, uid, session)
            except UidLostError as err:
                session.replace(None)
                raise IproSessionLostError(
                    f"The NVR at {self.where} dropped the {session.role} session right after "
                    f"login ({err}); another client may be using up its 16 sessions."
                ) from err

    async def release(self, session: UidSession) -> None:
        """Log ``session`` out (best effort) and forget it."""
        self.sessions.discard(session)
        async with session.lock:
            uid = session.uid
            session.replace(None)
            if uid is None or self.closed:
                return
            command = commands.logout()
            try:
                response = await self.request(command, uid)
                response.release()
            except IproError as err:
                _LOGGER.debug("Logout of the %s session failed: %s", session.role, err)

    async def with_session[T](
        self, session: UidSession, attempt: Callable[[str], Awaitable[T]]
    ) -> T:
        """Run ``attempt(uid)``; on a lost UID log in again once and retry once."""
        for retry in (False, True):
            uid = await self.acquire(session)
            try:
                return await attempt(uid)
            except UidLostError as err:
                if err.status is not None and await self._uid_alive(uid, session):
                    raise IproProtocolError(
                        f"The NVR at {self.where} refused {err.cgi} with HTTP {err.status}; "
                        "the request is not supported for this camera or in this state."
                    ) from None
                if retry:
                    raise IproSessionLostError(
                        f"The NVR at {self.where} dropped the {session.role} session again "
                        f"right after a new login ({err}); another client may be using up "
                        "its 16 sessions."
                    ) from None
                _LOGGER.info("The %s session was lost (%s); logging in again", session.role, err)
                session.lose(uid)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _uid_alive(self, uid: str, session: UidSession) -> bool:
        """Ask whether ``uid`` is still valid, before an HTTP error costs a new login.

        Logging in again replaces the session's UID; for the shared live UID that would
        orphan every running stream, so an error status alone is checked first.
        """
        command = commands.keep_alive()
        try:
            response = await self.request(command, uid, session)
        except UidLostError:
            return False
        async with response:
            if response.status >= _HTTP_ERROR:
                return False
            body = await self.read_body(response, command, MAX_TEXT_BYTES)
        return bool(body.strip()) and not is_login_page(body)

    async def _text_once(self, command: CgiCommand, uid: str, session: UidSession) -> str:
        response = await self.request(command, uid, session)
        async with response:
            if response.status >= _HTTP_ERROR:
                raise UidLostError(
                    f"HTTP {response.status}", status=response.status, cgi=command.cgi
                )
            body = await self.read_body(response, command, MAX_TEXT_BYTES)
        if command.expects_data and not body.strip():
            raise UidLostError("empty answer")
        if is_login_page(body):
            raise UidLostError("login page instead of an answer")
        return decode_text(body)

    async def call(self, command: CgiCommand, session: UidSession) -> str:
        """Send a command carrying the UID of ``session`` and return its text answer."""
        return await self.with_session(session, lambda uid: self._text_once(command, uid, session))

    async def call_plain(self, command: CgiCommand) -> str:
        """Send a command without a UID (``recordedtime.cgi``, ``as_getinfo.cgi``)."""
        response = await self.request(command)
        async with response:
            if response.status == _HTTP_UNAVAILABLE:
                raise IproBusyError(f"The NVR at {self.where} is busy; try again later.")
            if response.status >= _HTTP_ERROR:
                raise IproProtocolError(
                    f"The NVR at {self.where} answered {command.cgi} with HTTP {response.status}."
                )
            body = await self.read_body(response, command, MAX_TEXT_BYTES)
        if not body.strip() or is_login_page(body):
            raise IproProtocolError(f"The NVR at {self.where} sent no data for {command.cgi}.")
        return decode_text(body)

    async def fetch(self, command: CgiCommand, session: UidSession) -> bytes:
        """Send a data request (``camera.cgi``, ``playaudio.cgi``) and return its body."""

        async def attempt(uid: str) -> bytes:
            response = await self.request(command, uid, session, stream=True)
            await self.check_stream_start(response, command)
            async with response:
                body = await self.read_body(response, command)
            if not body:
                raise UidLostError("empty answer")
            return body

        return await self.with_session(session, attempt)

    async def open_stream(self, command: CgiCommand, session: UidSession) -> aiohttp.ClientResponse:
        """Start a streaming request; the caller reads and releases the response.

        ``204 No Content`` is the NVR refusing a push for load.
        """

        async def attempt(uid: str) -> aiohttp.ClientResponse:
            response = await self.request(command, uid, session, stream=True)
            if response.status == _HTTP_NO_CONTENT:
                response.release()
                raise IproBusyError(
                    f"The NVR at {self.where} refused to start a stream (HTTP 204): it is "
                    "busy or out of streams; stop other streams or try again later."
                )
            await self.check_stream_start(response, command)
            return response

        return await self.with_session(session, attempt)

    async def send_quiet(
        self, command: CgiCommand, session: UidSession, uid: str | None = None
    ) -> None:
        """Undo something done on ``uid`` (default: the session's UID), such as a STOP on exit.

        Its failure must not mask another error. It is not sent once the session no
        longer holds ``uid``: what it would undo ended with that UID. A login page as
        answer means the UID is lost; the session forgets it, so that the next request
        logs in at once and the other commands queued for the lost UID are not sent.
        """
        uid = session.uid if uid is None else uid
        if uid is None or self.closed or session.uid != uid:
            return
        try:
            await self._text_once(command, uid, session)
        except UidLostError as err:
            if err.status is None:  # an HTTP error alone may be a refusal on a valid UID
                session.lose(uid)
            _LOGGER.debug("%s not done: %s", command.cgi, err)
        except IproError as err:
            _LOGGER.debug("%s failed: %s", command.cgi, err)

    # Keep-alive

    def _start_keepalive(self) -> None:
        if self._keepalive_task is None and not self.closing:
            self._keepalive_task = asyncio.create_task(
                self._keepalive_loop(), name=f"ipro keep-alive {self.where}"
            )

    async def keep_alive(self, session: UidSession) -> None:
        """Send ``status.cgi`` with the UID of ``session``."""
        await self.call(commands.keep_alive(), session)

    async def _keepalive_loop(self) -> None:
        period = self.keepalive_interval / 4
        while True:
            await asyncio.sleep(period)
            for session in sorted(self.sessions, key=lambda s: s.last_used):
                if self.auth_rejected:
                    break
                if not session.wants_keepalive(self.clock(), self.keepalive_interval):
                    continue
                try:
                    await self.keep_alive(session)
                except IproError as err:
                    _LOGGER.warning(
                        "Keep-alive of the %s session to %s failed: %s",
                        session.role,
                        self.where,
                        err,
                    )

    async def close(self) -> None:
        """Stop the keep-alive task and log out every session; no login after this."""
        self.closing = True
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            await asyncio.gather(self._keepalive_task, return_exceptions=True)
            self._keepalive_task = None
        for session in sorted(self.sessions, key=lambda s: s.role != SessionRole.CONTROL):
            await self.release(session)
        self.closed = True
