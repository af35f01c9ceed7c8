"""The decision model at run time: the ONNX step session, sampling, and the portable generator."""
