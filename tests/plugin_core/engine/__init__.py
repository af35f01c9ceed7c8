"""Tests of plugin_core/engine/."""
