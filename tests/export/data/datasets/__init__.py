"""Tests of export/data/datasets/."""
