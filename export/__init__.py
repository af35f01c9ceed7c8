"""The PyTorch side of countertrack: corpora, encoders, codebooks, the decision model, ONNX export."""
