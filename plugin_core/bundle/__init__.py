"""Bundles: loading and verifying a bundle's folder or zip, its manifest, ONNX graphs, and the shipped data."""
