"""What A and B are made of: segment grids, tempo, descriptors, and tokens from the ONNX encoder+codebook."""
