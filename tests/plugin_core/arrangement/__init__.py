"""Tests of plugin_core/arrangement/."""
