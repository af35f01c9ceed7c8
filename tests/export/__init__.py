"""Tests of the PyTorch side, one folder per package of export."""
