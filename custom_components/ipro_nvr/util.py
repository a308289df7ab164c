"""Helpers shared by the platforms: building the client and translating its errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine, Mapping
from functools import wraps
from typing import Any

from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SSL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util.hass_dict import HassKey

from .aioipro.client import IproClient
from .aioipro.errors import (
    IproAuthError,
    IproBusyError,
    IproCodecError,
    IproConnectionError,
    IproError,
    IproNoFreeSessionError,
    IproNoRecordingError,
    IproProtocolError,
    IproSessionLostError,
    IproTimeoutError,
)
from .aioipro.pacer import Pacer
from .const import DOMAIN, REQUEST_TIMEOUT

# Most specific first: the first matching class names the translation.
_ERROR_TRANSLATION_KEYS: tuple[tuple[type[IproError], str], ...] = (
    (IproTimeoutError, "timeout"),
    (IproConnectionError, "cannot_connect"),
    (IproAuthError, "invalid_auth"),
    (IproSessionLostError, "session_lost"),
    (IproNoFreeSessionError, "no_free_session"),
    (IproBusyError, "busy"),
    (IproNoRecordingError, "no_recording"),
    (IproCodecError, "codec_not_compatible"),
    (IproProtocolError, "protocol_error"),
)
# Errors that come from what the user asked for, not from the NVR's state.
_USER_ERRORS: tuple[type[IproError], ...] = (IproNoRecordingError, IproCodecError)


def new_pacer() -> Pacer:
    """Return the pacer of a new client: the NVR's own 3 s / 0.2 s spacing.

    This is the single place pacing intervals come from, so tests patch it to run fast.
    """
    return Pacer()


HTTP_PORT = 80
HTTPS_PORT = 443

# One pacer per NVR, whichever client talks to it: the config flow's check and the entry
# that follows it at once must not send two commands closer than the NVR allows.
_PACERS: HassKey[dict[tuple[str, int], Pacer]] = HassKey(f"{DOMAIN}_pacers")


def nvr_pacer(hass: HomeAssistant, host: str, port: int) -> Pacer:
    """Return the pacer of the NVR at ``host:port``, creating it on first use."""
    pacers = hass.data.setdefault(_PACERS, {})
    key = (host.lower(), port)
    if (pacer := pacers.get(key)) is None:
        pacer = pacers[key] = new_pacer()
    return pacer


def effective_port(data: Mapping[str, Any]) -> int:
    """Return the port entry data means: the one given, else 80, or 443 with SSL."""
    port: int = data.get(CONF_PORT) or (HTTPS_PORT if data.get(CONF_SSL) else HTTP_PORT)
    return port


def create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> IproClient:
    """Build a client from config entry data, on Home Assistant's shared HTTP session."""
    verify_ssl = bool(data.get(CONF_VERIFY_SSL, False))
    port = effective_port(data)
    return IproClient(
        async_get_clientsession(hass, verify_ssl=verify_ssl),
        data[CONF_HOST],
        port,
        username=data[CONF_USERNAME],
        password=data[CONF_PASSWORD],
        ssl=bool(data.get(CONF_SSL, False)),
        verify_ssl=verify_ssl,
        pacer=nvr_pacer(hass, data[CONF_HOST], port),
        request_timeout=REQUEST_TIMEOUT,
    )


def translation_key(err: IproError) -> str:
    """Return the translation key (config flow error or exception) for a client error."""
    for error_class, key in _ERROR_TRANSLATION_KEYS:
        if isinstance(err, error_class):
            return key
    return "unknown"


def translate_error(err: IproError) -> HomeAssistantError:
    """Return the translated Home Assistant error for a client error.

    What the user asked for and the NVR cannot give (no recording in the period, a
    format the recording cannot be delivered in) is a ``ServiceValidationError``;
    everything else is a ``HomeAssistantError``.
    """
    error_class = ServiceValidationError if isinstance(err, _USER_ERRORS) else HomeAssistantError
    return error_class(
        translation_domain=DOMAIN,
        translation_key=translation_key(err),
        translation_placeholders={"error": str(err)},
    )


def raise_translated_error[**P, R](
    func: Callable[P, Awaitable[R]],
) -> Callable[P, Coroutine[Any, Any, R]]:
    """Wrap a coroutine function that calls the client so its errors reach the user translated."""

    @wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await func(*args, **kwargs)
        except IproError as err:
            raise translate_error(err) from err

    return wrapper
