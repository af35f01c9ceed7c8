"""Streaming: the effect contract, the sidechain effect, its schedule, threads, parameters and presets."""
