"""Tests of export/model/."""
