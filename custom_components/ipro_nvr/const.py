"""Constants shared by the i-PRO NVR integration."""

from typing import Final

DOMAIN: Final = "ipro_nvr"
