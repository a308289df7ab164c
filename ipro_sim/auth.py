"""Server side of HTTP Basic and Digest (RFC 7616, MD5 and SHA-256, qop=auth).

Nonces are stateless (time + HMAC with a per-boot secret), so a reboot invalidates them
and an old nonce with the right password gets a ``stale=true`` challenge, as RFC 7616
asks.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
import hashlib
import hmac
import re
import secrets
import time

_PARAM = re.compile(r'(\w[\w-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda data: hashlib.md5(data, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
}


def parse_auth_params(text: str) -> dict[str, str]:
    """``key=value, key="quoted"`` pairs of an Authorization header (keys lower-cased)."""
    params = {}
    for match in _PARAM.finditer(text):
        quoted, bare = match.group(2), match.group(3)
        value = quoted.replace('\\"', '"') if quoted is not None else bare
        params[match.group(1).lower()] = value
    return params


@dataclass(frozen=True, slots=True)
class AuthResult:
    """Outcome of checking one request: accepted, or rejected (maybe only stale)."""

    ok: bool
    stale: bool = False


class Authenticator:
    """Checks credentials and builds the 401 challenge for one simulated NVR."""

    def __init__(
        self,
        *,
        scheme: str,
        username: str,
        password: str,
        realm: str,
        algorithms: tuple[str, ...],
        nonce_lifetime: float = 300.0,
    ) -> None:
        self.scheme = scheme
        self.username = username
        self.password = password
        self.realm = realm
        self.algorithms = algorithms
        self.nonce_lifetime = nonce_lifetime
        self._secret = secrets.token_bytes(16)
        self._opaque = secrets.token_hex(8)

    def rotate(self) -> None:
        """Forget every nonce handed out (the NVR rebooted)."""
        self._secret = secrets.token_bytes(16)

    def _nonce(self, issued: int) -> str:
        mac = hmac.new(self._secret, str(issued).encode(), hashlib.sha256).hexdigest()[:24]
        return base64.b64encode(f"{issued}:{mac}".encode()).decode()

    def _nonce_fresh(self, nonce: str) -> bool:
        try:
            issued = int(base64.b64decode(nonce, validate=True).decode().split(":", 1)[0])
        except ValueError:
            return False
        return hmac.compare_digest(nonce, self._nonce(issued)) and (
            time.time() - issued < self.nonce_lifetime
        )

    def challenges(self, stale: bool = False) -> list[str]:
        """``WWW-Authenticate`` values, one per offered algorithm."""
        if self.scheme == "basic":
            return [f'Basic realm="{self.realm}"']
        nonce = self._nonce(int(time.time()))
        extra = ", stale=true" if stale else ""
        return [
            f'Digest realm="{self.realm}", qop="auth", algorithm={algorithm}, '
            f'nonce="{nonce}", opaque="{self._opaque}"{extra}'
            for algorithm in self.algorithms
        ]

    def check(self, method: str, uri: str, header: str | None) -> AuthResult:
        """Verify an ``Authorization`` header for ``method`` on ``uri`` (path and query)."""
        if not header:
            return AuthResult(ok=False)
        scheme, _, rest = header.partition(" ")
        if self.scheme == "basic":
            return AuthResult(ok=scheme.lower() == "basic" and self._check_basic(rest.strip()))
        if scheme.lower() != "digest":
            return AuthResult(ok=False)
        return self._check_digest(method, uri, parse_auth_params(rest))

    def _check_basic(self, token: str) -> bool:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except ValueError:
            return False
        user, _, password = decoded.partition(":")
        return hmac.compare_digest(user, self.username) and hmac.compare_digest(
            password, self.password
        )

    def _check_digest(self, method: str, uri: str, params: dict[str, str]) -> AuthResult:
        algorithm = params.get("algorithm", "MD5").upper()
        offered = {name.upper(): name for name in self.algorithms}
        needed = ("username", "realm", "nonce", "uri", "response", "qop", "nc", "cnonce")
        if algorithm not in offered or any(key not in params for key in needed):
            return AuthResult(ok=False)
        if params["qop"] != "auth" or params["realm"] != self.realm or params["uri"] != uri:
            return AuthResult(ok=False)
        if params["username"] != self.username:
            return AuthResult(ok=False)
        digest = _HASHES[offered[algorithm]]
        ha1 = digest(f"{self.username}:{self.realm}:{self.password}".encode())
        ha2 = digest(f"{method}:{uri}".encode())
        expected = digest(
            f"{ha1}:{params['nonce']}:{params['nc']}:{params['cnonce']}:auth:{ha2}".encode()
        )
        if not hmac.compare_digest(expected, params["response"].lower()):
            return AuthResult(ok=False)
        if not self._nonce_fresh(params["nonce"]):
            return AuthResult(ok=False, stale=True)
        return AuthResult(ok=True)
