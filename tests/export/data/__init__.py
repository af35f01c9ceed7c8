"""Tests of export/data/."""
