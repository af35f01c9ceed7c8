"""Tests of plugin_core/decision/."""
