"""Freezing a run into ONNX graphs and a self-contained bundle, checked against PyTorch."""
