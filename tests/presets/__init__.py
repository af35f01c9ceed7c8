"""The shipped data: presets and the default bundle."""
