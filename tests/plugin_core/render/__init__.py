"""Tests of plugin_core/render/."""
