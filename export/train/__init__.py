"""Training a run, on one process or several (torchrun)."""
