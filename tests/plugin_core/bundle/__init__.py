"""Tests of plugin_core/bundle/."""
