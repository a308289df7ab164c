"""The PTZ part of the options flow: which cameras are PTZ, and their named presets.

The options flow's first step asks for the poll intervals and whether to set up PTZ
cameras; when asked, it hands over to ``async_step_ptz_cameras`` here, then one
``ptz_presets`` step per PTZ camera, then saves everything together.
"""

from __future__ import annotations

from typing import Any, Final

from homeassistant.config_entries import ConfigEntryState, ConfigFlowResult, OptionsFlow
from homeassistant.helpers import device_registry as dr, selector
import probatio

from .devices import camera_identifier
from .ptz import (
    CONF_PTZ_CAMERAS,
    CONF_PTZ_PRESETS,
    PresetSyntaxError,
    format_presets,
    parse_presets,
    ptz_cameras,
    ptz_presets,
)

CONF_CONFIGURE_PTZ: Final = "configure_ptz"
CONF_PRESETS: Final = "presets"
# The largest NVRs of the series record 128 cameras.
MAX_CAMERA: Final = 128


class PtzOptionsFlowMixin(OptionsFlow):
    """Options flow steps that mark PTZ cameras and name their presets."""

    _ptz_options: dict[str, Any]
    _ptz_chosen: list[int]
    _ptz_pending: list[int]
    _ptz_presets: dict[str, dict[str, str]]

    async def async_begin_ptz(self, options: dict[str, Any]) -> ConfigFlowResult:
        """Continue from the first step with its answers kept in ``options``."""
        self._ptz_options = options
        return await self.async_step_ptz_cameras()

    def _camera_label(self, camera: int) -> str:
        """Return ``"<n>: <device name>"``, or the number when the camera has no device."""
        device = dr.async_get(self.hass).async_get_device_by_identifier(
            camera_identifier(self.config_entry, camera), self.config_entry.entry_id
        )
        name = device and (device.name_by_user or device.name)
        return f"{camera}: {name}" if name else str(camera)

    async def async_step_ptz_cameras(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask which cameras are PTZ: the registered ones are offered, any number is taken."""
        errors: dict[str, str] = {}
        current = ptz_cameras(self.config_entry.options)
        if user_input is not None:
            chosen = [str(value).strip() for value in user_input.get(CONF_PTZ_CAMERAS, [])]
            if all(value.isdecimal() and 1 <= int(value) <= MAX_CAMERA for value in chosen):
                self._ptz_chosen = sorted({int(value) for value in chosen})
                self._ptz_pending = list(self._ptz_chosen)
                self._ptz_presets = {}
                return await self.async_step_ptz_presets()
            errors[CONF_PTZ_CAMERAS] = "invalid_camera"
            current = ()

        offered = set(current)
        if self.config_entry.state is ConfigEntryState.LOADED:
            offered.update(self.config_entry.runtime_data.coordinator.data.cameras.registered)
        schema = probatio.Schema(
            {
                probatio.Optional(
                    CONF_PTZ_CAMERAS, default=[str(camera) for camera in current]
                ): selector.SelectSelector(
                    selector.SelectSelectorConfig(
                        options=[
                            selector.SelectOptionDict(
                                value=str(camera), label=self._camera_label(camera)
                            )
                            for camera in sorted(offered)
                        ],
                        multiple=True,
                        custom_value=True,
                        mode=selector.SelectSelectorMode.LIST,
                    )
                )
            }
        )
        return self.async_show_form(step_id="ptz_cameras", data_schema=schema, errors=errors)

    async def async_step_ptz_presets(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the named presets of the next PTZ camera; save after the last one."""
        errors: dict[str, str] = {}
        line = ""
        if user_input is not None:
            camera = self._ptz_pending[0]
            try:
                presets = parse_presets(user_input.get(CONF_PRESETS, ""))
            except PresetSyntaxError as err:
                errors[CONF_PRESETS] = err.key
                line = err.line
            else:
                if presets:
                    self._ptz_presets[str(camera)] = {
                        str(number): name for number, name in presets.items()
                    }
                self._ptz_pending.pop(0)

        if not self._ptz_pending:
            return self.async_create_entry(
                data={
                    **self._ptz_options,
                    CONF_PTZ_CAMERAS: self._ptz_chosen,
                    CONF_PTZ_PRESETS: self._ptz_presets,
                }
            )

        camera = self._ptz_pending[0]
        text = (
            user_input.get(CONF_PRESETS, "")
            if errors and user_input is not None
            else format_presets(ptz_presets(self.config_entry.options, camera))
        )
        schema = probatio.Schema(
            {
                probatio.Optional(
                    CONF_PRESETS, description={"suggested_value": text}
                ): selector.TextSelector(selector.TextSelectorConfig(multiline=True))
            }
        )
        return self.async_show_form(
            step_id="ptz_presets",
            data_schema=schema,
            errors=errors,
            description_placeholders={"camera": self._camera_label(camera), "line": line},
        )
