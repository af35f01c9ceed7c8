"""Data shipped with countertrack: the JSON presets, the default bundle and its example A.

A package only so the data installs with the wheel and is found through ``importlib.resources``;
read it with ``plugin_core.bundle.shipped``, never by a path relative to the source tree.
"""
