"""Offline rendering of whole tracks: one bounce, a local batch, a batch on a Ray cluster."""
