"""A simulated i-PRO network disk recorder speaking the CGI interface over HTTP."""

from .config import DiskConfig, SimulatorConfig
from .faults import Faults
from .server import NvrSimulator, RequestRecord

__all__ = ["DiskConfig", "Faults", "NvrSimulator", "RequestRecord", "SimulatorConfig"]
