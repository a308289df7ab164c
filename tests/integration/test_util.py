"""The error decorator later platforms wrap client calls with: every client error translated."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest

from custom_components.ipro_nvr.aioipro.errors import (
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
from custom_components.ipro_nvr.const import DOMAIN
from custom_components.ipro_nvr.util import new_pacer, raise_translated_error

TRANSLATIONS = json.loads(
    (
        Path(__file__).parents[2] / "custom_components" / "ipro_nvr" / "translations" / "en.json"
    ).read_text(encoding="utf-8")
)


@pytest.mark.parametrize(
    ("error", "expected_class", "key"),
    [
        (IproTimeoutError("slow"), HomeAssistantError, "timeout"),
        (IproConnectionError("down"), HomeAssistantError, "cannot_connect"),
        (IproAuthError("no"), HomeAssistantError, "invalid_auth"),
        (IproSessionLostError("gone"), HomeAssistantError, "session_lost"),
        (IproNoFreeSessionError("full"), HomeAssistantError, "no_free_session"),
        (IproBusyError("busy"), HomeAssistantError, "busy"),
        (IproNoRecordingError("none"), ServiceValidationError, "no_recording"),
        (IproCodecError("jpeg"), ServiceValidationError, "codec_not_compatible"),
        (IproProtocolError("junk"), HomeAssistantError, "protocol_error"),
        (IproError("odd"), HomeAssistantError, "unknown"),
    ],
)
async def test_client_errors_become_translated_errors(
    error: IproError, expected_class: type[HomeAssistantError], key: str
) -> None:
    @raise_translated_error
    async def command(value: int) -> int:
        if value:
            raise error
        return value

    assert await command(0) == 0
    with pytest.raises(expected_class) as caught:
        await command(1)
    assert type(caught.value) is expected_class
    assert caught.value.translation_domain == DOMAIN
    assert caught.value.translation_key == key
    assert caught.value.translation_placeholders == {"error": str(error)}
    assert caught.value.__cause__ is error
    assert "{error}" in TRANSLATIONS["exceptions"][key]["message"]


def test_clients_get_the_nvr_pacing_outside_tests() -> None:
    pacer = new_pacer()
    assert pacer.command_interval == 3.0
    assert pacer.control_interval == 0.2
