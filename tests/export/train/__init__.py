"""Tests of export/train/."""
