"""Tests of host_scripts/live/."""
