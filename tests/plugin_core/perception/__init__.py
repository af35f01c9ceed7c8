"""Tests of plugin_core/perception/."""
