"""Judging a run: the paper's token metrics, the audio report, and the paper's sweep."""
