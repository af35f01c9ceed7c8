"""Tests of the runtime, one folder per package of plugin_core."""
