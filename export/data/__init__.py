"""Corpora and training data: scores and stems to pairs, FluidSynth, provenance, features and token sequences."""
