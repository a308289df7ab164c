"""The PTZ part of the options flow: marking PTZ cameras, naming presets, and the entities."""

from __future__ import annotations

from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResult, FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.ipro_nvr.const import (
    CONF_EVENT_LOG_INTERVAL,
    CONF_HDD_INTERVAL,
    CONF_STATUS_INTERVAL,
    CONF_VIDEO_CODEC,
)
from custom_components.ipro_nvr.devices import camera_identifier
from custom_components.ipro_nvr.ptz import (
    CONF_PTZ_CAMERAS,
    CONF_PTZ_PRESETS,
    PresetSyntaxError,
    format_presets,
    parse_presets,
    ptz_presets,
)
from custom_components.ipro_nvr.ptz_flow import CONF_CONFIGURE_PTZ, CONF_PRESETS

from .ptz_common import PTZ_OPTIONS

INIT_FIELDS = {
    CONF_EVENT_LOG_INTERVAL: 5,
    CONF_STATUS_INTERVAL: 30,
    CONF_HDD_INTERVAL: 600,
    CONF_VIDEO_CODEC: "H264",
}


def suggested(result: FlowResult, field: str) -> Any:
    """The value a form suggests (or defaults to) for ``field``."""
    for key in result["data_schema"].schema:
        if key == field:
            if key.description and "suggested_value" in key.description:
                return key.description["suggested_value"]
            return key.default()
    raise AssertionError(f"{field} is not in the form")


def offered(result: FlowResult) -> list[tuple[str, str]]:
    """The (value, label) options of the PTZ camera selector."""
    for key, value in result["data_schema"].schema.items():
        if key == CONF_PTZ_CAMERAS:
            return [(option["value"], option["label"]) for option in value.config["options"]]
    raise AssertionError("no camera selector")


async def start_ptz(hass: HomeAssistant, entry: MockConfigEntry) -> FlowResult:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    assert suggested(result, CONF_CONFIGURE_PTZ) is False
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {**INIT_FIELDS, CONF_CONFIGURE_PTZ: True}
    )


async def test_mark_ptz_cameras_and_name_presets(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    dr.async_get(hass).async_update_device(
        dr.async_get(hass)
        .async_get_device_by_identifier(camera_identifier(loaded_entry, 3), loaded_entry.entry_id)
        .id,
        name_by_user="Yard",
    )
    result = await start_ptz(hass, loaded_entry)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ptz_cameras"
    assert offered(result) == [
        ("1", "1: WJ-NX400 camera 1"),
        ("2", "2: WJ-NX400 camera 2"),
        ("3", "3: Yard"),
        ("4", "4: WJ-NX400 camera 4"),
    ]
    assert suggested(result, CONF_PTZ_CAMERAS) == []

    # Camera 12 is not registered now: typed in, it is taken all the same.
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PTZ_CAMERAS: ["3", "1", " 12 "]}
    )
    assert result["step_id"] == "ptz_presets"
    assert result["description_placeholders"] == {"camera": "1: WJ-NX400 camera 1", "line": ""}
    assert suggested(result, CONF_PRESETS) == ""
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRESETS: "1 = Gate\n\n  2=Front   door \n"}
    )
    assert result["description_placeholders"]["camera"] == "3: Yard"
    result = await hass.config_entries.options.async_configure(result["flow_id"], {})
    assert result["description_placeholders"]["camera"] == "12"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRESETS: "256 = Far corner"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert loaded_entry.options == {
        **INIT_FIELDS,
        CONF_PTZ_CAMERAS: [1, 3, 12],
        CONF_PTZ_PRESETS: {"1": {"1": "Gate", "2": "Front door"}, "12": {"256": "Far corner"}},
    }
    assert loaded_entry.state is ConfigEntryState.LOADED
    assert hass.states.get("button.wj_nx400_camera_1_go_to_gate") is not None
    assert hass.states.get("button.wj_nx400_camera_1_go_to_front_door") is not None
    assert hass.states.get("button.yard_pan_left") is not None
    assert hass.states.get("select.wj_nx400_camera_1_preset") is not None
    assert hass.states.get("select.yard_preset") is None


@pytest.mark.parametrize("entry_options", [{**INIT_FIELDS, **PTZ_OPTIONS}])
async def test_current_choices_are_suggested_and_can_be_cleared(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await start_ptz(hass, loaded_entry)
    assert suggested(result, CONF_PTZ_CAMERAS) == ["1", "2"]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PTZ_CAMERAS: ["1"]}
    )
    assert suggested(result, CONF_PRESETS) == "1 = Gate\n2 = Front door"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRESETS: ""}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert loaded_entry.options == {**INIT_FIELDS, CONF_PTZ_CAMERAS: [1], CONF_PTZ_PRESETS: {}}
    assert hass.states.get("button.wj_nx400_camera_1_pan_left") is not None
    assert hass.states.get("button.wj_nx400_camera_1_go_to_gate") is None
    assert hass.states.get("button.wj_nx400_camera_2_pan_left") is None


@pytest.mark.parametrize("entry_options", [{**INIT_FIELDS, **PTZ_OPTIONS}])
async def test_no_ptz_cameras(hass: HomeAssistant, loaded_entry: MockConfigEntry) -> None:
    result = await start_ptz(hass, loaded_entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PTZ_CAMERAS: []}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {**INIT_FIELDS, CONF_PTZ_CAMERAS: [], CONF_PTZ_PRESETS: {}}


@pytest.mark.parametrize("entry_options", [{**INIT_FIELDS, **PTZ_OPTIONS}])
async def test_intervals_alone_keep_the_ptz_options(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {**INIT_FIELDS, CONF_EVENT_LOG_INTERVAL: 9}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {**INIT_FIELDS, CONF_EVENT_LOG_INTERVAL: 9, **PTZ_OPTIONS}


@pytest.mark.parametrize("cameras", [["abc"], ["0"], ["129"], ["1", "-2"]])
async def test_invalid_camera_numbers(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, cameras: list[str]
) -> None:
    result = await start_ptz(hass, loaded_entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PTZ_CAMERAS: cameras}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ptz_cameras"
    assert result["errors"] == {CONF_PTZ_CAMERAS: "invalid_camera"}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PTZ_CAMERAS: ["128"]}
    )
    assert result["step_id"] == "ptz_presets"


@pytest.mark.parametrize(
    ("text", "error", "line"),
    [
        ("Gate", "invalid_preset_line", "Gate"),
        ("1 =", "invalid_preset_line", "1 ="),
        ("one = Gate", "invalid_preset_line", "one = Gate"),
        ("0 = Gate", "invalid_preset_number", "0 = Gate"),
        ("257 = Gate", "invalid_preset_number", "257 = Gate"),
        ("1 = Gate\n1 = Door", "duplicate_preset_number", "1 = Door"),
        ("1 = Gate\n2 = gate", "duplicate_preset_name", "2 = gate"),
    ],
)
async def test_invalid_presets_are_shown_again(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, text: str, error: str, line: str
) -> None:
    result = await start_ptz(hass, loaded_entry)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PTZ_CAMERAS: ["2"]}
    )
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRESETS: text}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "ptz_presets"
    assert result["errors"] == {CONF_PRESETS: error}
    assert result["description_placeholders"] == {"camera": "2: WJ-NX400 camera 2", "line": line}
    # What the user typed stays in the field to be corrected.
    assert suggested(result, CONF_PRESETS) == text
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_PRESETS: "3 = Drive"}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert ptz_presets(loaded_entry.options, 2) == {3: "Drive"}


async def test_options_flow_of_an_unloaded_entry_offers_the_marked_cameras(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(config_entry, options=PTZ_OPTIONS)
    assert config_entry.state is ConfigEntryState.NOT_LOADED
    result = await start_ptz(hass, config_entry)
    assert offered(result) == [("1", "1"), ("2", "2")]


def test_preset_text_round_trip() -> None:
    presets = parse_presets("10 = Dock\n2 = Gate")
    assert list(presets) == [2, 10]
    assert format_presets(presets) == "2 = Gate\n10 = Dock"
    assert parse_presets(format_presets(presets)) == presets
    with pytest.raises(PresetSyntaxError) as err:
        parse_presets("x")
    assert (err.value.key, err.value.line) == ("invalid_preset_line", "x")


def test_presets_of_cameras_that_are_not_ptz_are_ignored() -> None:
    options = {CONF_PTZ_CAMERAS: [2], CONF_PTZ_PRESETS: {"1": {"1": "Gate"}, "2": {"4": "X"}}}
    assert ptz_presets(options, 1) == {}
    assert ptz_presets(options, 2) == {4: "X"}
    assert ptz_presets({}, 2) == {}


async def test_ptz_steps_and_errors_are_translated(hass: HomeAssistant) -> None:
    translations = await async_get_translations(hass, "en", "options", ["ipro_nvr"])
    prefix = "component.ipro_nvr.options"
    for step, fields in (("ptz_cameras", [CONF_PTZ_CAMERAS]), ("ptz_presets", [CONF_PRESETS])):
        assert translations[f"{prefix}.step.{step}.title"]
        for field in fields:
            assert translations[f"{prefix}.step.{step}.data.{field}"]
            assert translations[f"{prefix}.step.{step}.data_description.{field}"]
    assert translations[f"{prefix}.step.init.data.{CONF_CONFIGURE_PTZ}"]
    for error in (
        "invalid_camera",
        "invalid_preset_line",
        "invalid_preset_number",
        "duplicate_preset_number",
        "duplicate_preset_name",
    ):
        assert translations[f"{prefix}.error.{error}"]
