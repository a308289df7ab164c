"""Tests for the i-PRO NVR integration, its protocol client and the simulator."""
