"""Config flow for the i-PRO NVR integration."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
import probatio

from .const import DOMAIN


class IproNvrConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up an NVR from the UI."""

    VERSION = 1

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the NVR's address."""
        if user_input is not None:
            return self.async_create_entry(title=user_input["host"], data=user_input)
        return self.async_show_form(
            step_id="user", data_schema=probatio.Schema({probatio.Required("host"): str})
        )
