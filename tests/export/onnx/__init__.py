"""Tests of export/onnx/."""
