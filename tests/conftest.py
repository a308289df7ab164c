"""Shared fixtures.

``custom_components.ipro_nvr`` is imported here, before Home Assistant starts, so that
the plugin's own ``testing_config/custom_components`` package does not shadow ours.
Sockets stay blocked by the plugin except for 127.0.0.1, where the simulator listens.
"""

from __future__ import annotations

import pytest

import custom_components.ipro_nvr  # noqa: F401


@pytest.fixture
def enable_integration(enable_custom_integrations: None) -> None:
    """Let Home Assistant load integrations from custom_components/."""
