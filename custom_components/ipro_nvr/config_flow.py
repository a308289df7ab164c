"""Config flow: set up an NVR, re-authenticate, reconfigure its address, poll options."""

from __future__ import annotations

from collections.abc import Mapping
import logging
from typing import Any, override

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult, OptionsFlowWithReload
from homeassistant.const import (
    CONF_HOST,
    CONF_PASSWORD,
    CONF_PORT,
    CONF_SSL,
    CONF_USERNAME,
    CONF_VERIFY_SSL,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import selector
import probatio

from .aioipro.errors import (
    IproAuthError,
    IproConnectionError,
    IproError,
    IproNoFreeSessionError,
)
from .aioipro.models import NvrInfo, VideoCodec
from .const import (
    CONF_EVENT_LOG_INTERVAL,
    CONF_HDD_INTERVAL,
    CONF_STATUS_INTERVAL,
    CONF_VIDEO_CODEC,
    DEFAULT_EVENT_LOG_INTERVAL,
    DEFAULT_HDD_INTERVAL,
    DEFAULT_STATUS_INTERVAL,
    DEFAULT_VIDEO_CODEC,
    DOMAIN,
    MAX_EVENT_LOG_INTERVAL,
    MAX_HDD_INTERVAL,
    MAX_STATUS_INTERVAL,
    MIN_EVENT_LOG_INTERVAL,
    MIN_HDD_INTERVAL,
    MIN_STATUS_INTERVAL,
)
from .data import IproNvrConfigEntry
from .ptz_flow import CONF_CONFIGURE_PTZ, PtzOptionsFlowMixin
from .util import create_client, effective_port

_LOGGER = logging.getLogger(__name__)

DEFAULT_USERNAME = "ADMIN"


def _address_schema(defaults: Mapping[str, Any]) -> dict[Any, Any]:
    """Return the fields that say where the NVR is and how to talk to it."""
    port = (
        probatio.Optional(CONF_PORT, description={"suggested_value": defaults[CONF_PORT]})
        if CONF_PORT in defaults
        else probatio.Optional(CONF_PORT)
    )
    return {
        probatio.Required(CONF_HOST, default=defaults.get(CONF_HOST, "")): str,
        port: probatio.Port(),
        probatio.Required(CONF_SSL, default=defaults.get(CONF_SSL, False)): bool,
        probatio.Required(CONF_VERIFY_SSL, default=defaults.get(CONF_VERIFY_SSL, False)): bool,
    }


def _credentials_schema(username: str) -> dict[Any, Any]:
    """Return the user name and password fields."""
    return {
        probatio.Required(CONF_USERNAME, default=username): str,
        probatio.Required(CONF_PASSWORD): selector.TextSelector(
            selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
        ),
    }


def entry_unique_id(data: Mapping[str, Any]) -> str:
    """Return the unique id of an NVR entry: host and effective port (80, or 443 with SSL)."""
    return f"{str(data[CONF_HOST]).strip().lower()}:{effective_port(data)}"


async def _async_try_login(
    hass: HomeAssistant, data: Mapping[str, Any]
) -> tuple[NvrInfo | None, dict[str, str]]:
    """Log in once to check the data; return the NVR's info or the form errors."""
    client = create_client(hass, data)
    try:
        return await client.login(), {}
    except IproAuthError:
        return None, {"base": "invalid_auth"}
    except IproNoFreeSessionError:
        return None, {"base": "no_free_session"}
    except IproConnectionError:
        return None, {"base": "cannot_connect"}
    except IproError:
        _LOGGER.exception("Unexpected answer from the NVR at %s", data[CONF_HOST])
        return None, {"base": "unknown"}
    finally:
        await client.close()


def _clean(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the form input with the host trimmed and an empty port left out."""
    data = {key: value for key, value in user_input.items() if value is not None}
    data[CONF_HOST] = str(data[CONF_HOST]).strip()
    return data


class IproNvrConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up an i-PRO NVR from the UI."""

    VERSION = 1
    MINOR_VERSION = 1

    @staticmethod
    @callback
    @override
    def async_get_options_flow(config_entry: IproNvrConfigEntry) -> IproNvrOptionsFlow:
        """Return the options flow (poll intervals)."""
        return IproNvrOptionsFlow()

    @override
    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask where the NVR is and for its user; log in once before creating the entry."""
        errors: dict[str, str] = {}
        defaults: Mapping[str, Any] = {}
        if user_input is not None:
            data = _clean(user_input)
            defaults = data
            await self.async_set_unique_id(entry_unique_id(data))
            self._abort_if_unique_id_configured()
            info, errors = await _async_try_login(self.hass, data)
            if info is not None:
                return self.async_create_entry(title=info.model, data=data)
        schema = probatio.Schema(
            {
                **_address_schema(defaults),
                **_credentials_schema(defaults.get(CONF_USERNAME, DEFAULT_USERNAME)),
            }
        )
        return self.async_show_form(step_id="user", data_schema=schema, errors=errors)

    async def async_step_reauth(self, entry_data: Mapping[str, Any]) -> ConfigFlowResult:
        """Start re-authentication when the NVR rejects the stored credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a working user and password."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        username = entry.data[CONF_USERNAME]
        if user_input is not None:
            username = user_input[CONF_USERNAME]
            info, errors = await _async_try_login(self.hass, {**entry.data, **user_input})
            if info is not None:
                return self.async_update_reload_and_abort(entry, data_updates=user_input)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=probatio.Schema(_credentials_schema(username)),
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Move the entry to a new address; devices and entities stay as they are."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        defaults: Mapping[str, Any] = entry.data
        if user_input is not None:
            address = _clean(user_input)
            data = {
                key: value
                for key, value in entry.data.items()
                if key not in (CONF_HOST, CONF_PORT, CONF_SSL, CONF_VERIFY_SSL)
            } | address
            defaults = data
            unique_id = entry_unique_id(data)
            if unique_id != entry.unique_id:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured()
            info, errors = await _async_try_login(self.hass, data)
            if info is not None:
                return self.async_update_reload_and_abort(entry, unique_id=unique_id, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=probatio.Schema(_address_schema(defaults)),
            errors=errors,
            description_placeholders={"name": entry.title},
        )


class IproNvrOptionsFlow(PtzOptionsFlowMixin, OptionsFlowWithReload):
    """Poll intervals, then optionally PTZ cameras; the entry reloads when they change."""

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the poll intervals, and whether to set up PTZ cameras next."""
        if user_input is not None:
            configure_ptz = user_input.pop(CONF_CONFIGURE_PTZ, False)
            merged = {**self.config_entry.options, **user_input}
            if configure_ptz:
                return await self.async_begin_ptz(merged)
            return self.async_create_entry(data=merged)
        options = self.config_entry.options

        def seconds(key: str, default: int, low: int, high: int) -> dict[Any, Any]:
            return {
                probatio.Required(key, default=options.get(key, default)): probatio.All(
                    probatio.Coerce(int), probatio.Range(min=low, max=high)
                )
            }

        schema = probatio.Schema(
            {
                **seconds(
                    CONF_EVENT_LOG_INTERVAL,
                    DEFAULT_EVENT_LOG_INTERVAL,
                    MIN_EVENT_LOG_INTERVAL,
                    MAX_EVENT_LOG_INTERVAL,
                ),
                **seconds(
                    CONF_STATUS_INTERVAL,
                    DEFAULT_STATUS_INTERVAL,
                    MIN_STATUS_INTERVAL,
                    MAX_STATUS_INTERVAL,
                ),
                **seconds(
                    CONF_HDD_INTERVAL, DEFAULT_HDD_INTERVAL, MIN_HDD_INTERVAL, MAX_HDD_INTERVAL
                ),
                probatio.Required(
                    CONF_VIDEO_CODEC, default=options.get(CONF_VIDEO_CODEC, DEFAULT_VIDEO_CODEC)
                ): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[VideoCodec.H264.value, VideoCodec.H265.value],
                        translation_key=CONF_VIDEO_CODEC,
                        mode=selector.SelectSelectorMode.LIST,
                    )
                ),
                probatio.Optional(CONF_CONFIGURE_PTZ, default=False): bool,
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)
