"""Tests of plugin_core/stream/."""
