"""Tests of the NVR simulator over real loopback HTTP."""
