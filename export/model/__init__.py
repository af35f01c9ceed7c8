"""The PyTorch models: segment encoders, the decision model, the k-means codebook and the compatibility tables."""
