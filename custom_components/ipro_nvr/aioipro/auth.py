"""HTTP authentication towards the NVR: answer the scheme its 401 challenge names.

Decision: Digest is aiohttp's own ``DigestAuthMiddleware`` (aiohttp >= 3.12). Evaluated
against what the NVR needs, it does all of it: RFC 7616 MD5 and SHA-256 (and their
``-sess`` variants), ``qop=auth``, ``opaque``, preemptive reuse of the last nonce with
a counting ``nc`` (so after the first challenge every request carries credentials and
costs one round trip), and one retry when a reused nonce is refused (``stale=true``).
It is well kept and tested upstream, so it beats a hand-written digest.

What it lacks is Basic: when the challenge names another scheme it hands the ``401``
back untouched. :class:`IproAuth` wraps it and adds just that: on a ``Basic``
challenge it answers with Basic credentials and sends them preemptively from then on
(until the device challenges with Digest again). A ``401`` that survives the answer is
returned to the caller, which reports wrong credentials.

The middleware is passed per request (``session.get(..., middlewares=(auth,))``)
because the ``aiohttp.ClientSession`` belongs to the caller. Credentials never reach a
log line.
"""

from __future__ import annotations

from aiohttp import (
    ClientHandlerType,
    ClientRequest,
    ClientResponse,
    DigestAuthMiddleware,
    encode_basic_auth,
    hdrs,
)


def challenge_scheme(response: ClientResponse) -> str | None:
    """Return the lower-case scheme a ``401`` challenge names (``digest``, ``basic``)."""
    if response.status != 401:
        return None
    header = response.headers.get(hdrs.WWW_AUTHENTICATE, "").strip()
    if not header:
        return None
    return header.split(maxsplit=1)[0].lower()


class IproAuth:
    """aiohttp client middleware answering Digest (via aiohttp) or Basic challenges."""

    def __init__(self, username: str, password: str) -> None:
        if ":" in username:
            raise ValueError("the user name must not contain ':'")
        self._digest = DigestAuthMiddleware(username, password, preemptive=True)
        self._basic = encode_basic_auth(username, password)
        self._use_basic = False

    async def __call__(self, request: ClientRequest, handler: ClientHandlerType) -> ClientResponse:
        """Send ``request`` with credentials, answering one challenge if needed."""
        if self._use_basic:
            request.headers[hdrs.AUTHORIZATION] = self._basic
            response = await handler(request)
            if challenge_scheme(response) != "digest":
                return response
            response.release()
            self._use_basic = False
            del request.headers[hdrs.AUTHORIZATION]
        response = await self._digest(request, handler)
        if challenge_scheme(response) == "basic":
            response.release()
            self._use_basic = True
            request.headers[hdrs.AUTHORIZATION] = self._basic
            response = await handler(request)
        return response
