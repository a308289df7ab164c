"""Simulator tests open listening sockets on 127.0.0.1 (and UDP receivers)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _loopback_sockets(socket_enabled: None) -> None:
    """Allow socket creation; the HA plugin still limits connections to 127.0.0.1."""
