"""Tests of export/evaluation/."""
