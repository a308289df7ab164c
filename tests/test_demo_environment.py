"""The environment scripts/setup builds can run the demo's frontend.

The demo starts Home Assistant with ``--skip-pip``, so every package its built-in
components import must come from requirements-dev.txt. One missing package once left
the browser check's dashboard loading forever in a fresh clone, with no error on the page.
"""

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.ipro_nvr.const import DOMAIN


@pytest.mark.usefixtures("enable_integration")
async def test_frontend_gets_every_service_description(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator
) -> None:
    """The frontend waits for ``get_services`` before it shows any dashboard.

    Describing a service whose target filters on supported features (media_player's, set
    up in the demo as in every Home Assistant) imports the base components, and with them
    conversation, tts and ffmpeg's packages.
    """
    for domain in ("homeassistant", "camera", "media_player", DOMAIN):
        assert await async_setup_component(hass, domain, {}), domain
    await hass.async_block_till_done()
    client = await hass_ws_client(hass)
    await client.send_json_auto_id({"type": "get_services"})
    answer = await client.receive_json()
    assert answer["success"], answer.get("error")
    assert {"ptz_move", "goto_preset", "download_clip"} <= set(answer["result"][DOMAIN])
    assert "snapshot" in answer["result"]["camera"]
