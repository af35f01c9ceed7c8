"""Tests of plugin_core/io/."""
